/* wasm_ops.h: the internal instruction set (slot code), as X-macro lists shared by
 * the compiler (which emits handler addresses) and the interpreter (which defines a
 * label per op).
 *
 * Code layout: an instruction is one cell holding its handler address followed by
 * operand cells (uint64_t each):
 *
 *    [handler][d][a][b]          d, a, b: frame slot indices (fp[i])
 *    [handler][d][a][k]          k: 64-bit immediate (the *_I variants)
 *    [handler][a][off]           off: branch offset, relative to the cell holding it
 *
 * LDA/LDAI (STA/STAI) are loads (stores) whose i32 address is a fused i32.add of two
 * slots (slot + immediate): ea = (u32)(x + y) + offset, exactly the wasm semantics.
 * I32_ADD_SHL is d = x + (y << k) (i32.shl by a constant feeding i32.add); LDAS/STAS
 * fuse it into the access: ea = (u32)(x + (y << k)) + offset. LDK/STK access a
 * constant address (i32.const address + offset, computed at compile time).
 *
 * ADDBR_<cmp> is an i32.add of an immediate followed by a fused compare-and-branch
 * (the usual loop step `i += k; if (i < n) continue`): [h][d][a][k][x][y][off],
 * d = a + k, then the branch on x <cmp> y (y an immediate for the _I forms).
 *
 * COPY2 and I32_ADD_I2 are two consecutive copies (i32.add of an immediate) in one
 * instruction, done in order: [h][d1][a1][d2][a2], [h][d1][a1][k1][d2][a2][k2].
 *
 * MV_<w> is a load whose value goes straight into a store of the same width (*p = *q):
 * [h][dst addr slot][dst offset][src addr slot][src offset]; load first, then store,
 * each with its own bounds check, as the two instructions.
 *
 * BRH_<op> is a backward `br` to a loop whose first instruction is op (COPY, COPY2,
 * I32_ADD_I, I32_ADD_I2; never with fuel, where LOOP_FUEL comes first): the interrupt
 * poll of the back edge, then a copy of op, then a jump past op in the loop header:
 * [h][op's operand cells][off]. BRT_<ld> is an i32 load whose value is the index of
 * the `br_table` right after it: [h][the load's cells][n][n+1 offsets]; the load
 * writes its destination slot too, then branches as BR_TABLE on the value.
 *
 * XR2, XR3, XR2S are xors of rotations by immediates (SHA-2's sigma functions):
 * XR2 d = rotl(x1, k1) ^ rotl(x2, k2) ([h][d][x1][k1][x2][k2]): an i32.rotl by an
 * immediate whose result is the other operand of the next FU_ROTL_I_XOR; XR3 and XR2S
 * ([h][d][x1][k1][x2][k2][x3][k3]) xor an XR2's result with rotl(x3, k3) or
 * x3 >> k3 (unsigned) in the same way.
 *
 * Slot i < nlocals is local i; slot nlocals + p is operand-stack position p.
 */
#ifndef AOX_WASM_OPS_H
#define AOX_WASM_OPS_H

/* Control and misc ops: X(name) */
#define WASM_CTRL_OPS(X) \
    X(UNREACHABLE) X(BR) X(BRIF) X(BRIFZ) X(BR_TABLE) X(COPY) X(COPY2) X(I32_ADD_I2) X(CONST) X(RET) \
    X(CALL) X(CALL_INDIRECT) X(FUEL) X(LOOP_FUEL) X(SELECT) \
    X(GLOBAL_GET) X(GLOBAL_SET) \
    X(LD_I32) X(LD_I64) X(LD_I32_8S) X(LD_I32_8U) X(LD_I32_16S) X(LD_I32_16U) \
    X(LD_I64_8S) X(LD_I64_8U) X(LD_I64_16S) X(LD_I64_16U) X(LD_I64_32S) X(LD_I64_32U) \
    X(ST_8) X(ST_16) X(ST_32) X(ST_64) \
    X(LD64_I32) X(LD64_I64) X(LD64_I32_8S) X(LD64_I32_8U) X(LD64_I32_16S) X(LD64_I32_16U) \
    X(LD64_I64_8S) X(LD64_I64_8U) X(LD64_I64_16S) X(LD64_I64_16U) X(LD64_I64_32S) X(LD64_I64_32U) \
    X(ST64_8) X(ST64_16) X(ST64_32) X(ST64_64) \
    X(LDA_I32) X(LDA_I64) X(LDA_I32_8S) X(LDA_I32_8U) X(LDA_I32_16S) X(LDA_I32_16U) \
    X(LDA_I64_8S) X(LDA_I64_8U) X(LDA_I64_16S) X(LDA_I64_16U) X(LDA_I64_32S) X(LDA_I64_32U) \
    X(LDAI_I32) X(LDAI_I64) X(LDAI_I32_8S) X(LDAI_I32_8U) X(LDAI_I32_16S) X(LDAI_I32_16U) \
    X(LDAI_I64_8S) X(LDAI_I64_8U) X(LDAI_I64_16S) X(LDAI_I64_16U) X(LDAI_I64_32S) X(LDAI_I64_32U) \
    X(STA_8) X(STA_16) X(STA_32) X(STA_64) X(STAI_8) X(STAI_16) X(STAI_32) X(STAI_64) \
    X(LDAS_I32) X(LDAS_I64) X(LDAS_I32_8S) X(LDAS_I32_8U) X(LDAS_I32_16S) X(LDAS_I32_16U) \
    X(LDAS_I64_8S) X(LDAS_I64_8U) X(LDAS_I64_16S) X(LDAS_I64_16U) X(LDAS_I64_32S) X(LDAS_I64_32U) \
    X(STAS_8) X(STAS_16) X(STAS_32) X(STAS_64) X(I32_ADD_SHL) \
    X(LDK_I32) X(LDK_I64) X(LDK_I32_8S) X(LDK_I32_8U) X(LDK_I32_16S) X(LDK_I32_16U) \
    X(LDK_I64_8S) X(LDK_I64_8U) X(LDK_I64_16S) X(LDK_I64_16U) X(LDK_I64_32S) X(LDK_I64_32U) \
    X(STK_8) X(STK_16) X(STK_32) X(STK_64) \
    X(MV_8) X(MV_16) X(MV_32) X(MV_64) \
    X(MEM_SIZE) X(MEM_GROW) X(MEM_FILL) X(MEM_COPY) X(MEM_INIT) X(DATA_DROP) \
    X(TABLE_GET) X(TABLE_SET) X(TABLE_SIZE) X(TABLE_GROW) X(TABLE_FILL) X(TABLE_COPY) \
    X(TABLE_INIT) X(ELEM_DROP) X(REF_FUNC) X(REF_IS_NULL) \
    X(THROW) X(RETHROW) \
    X(BR_EQ) X(BR_NE) X(BR_LT_S) X(BR_LT_U) X(BR_GT_S) X(BR_GT_U) X(BR_LE_S) X(BR_LE_U) \
    X(BR_GE_S) X(BR_GE_U) \
    X(BR_EQ_I) X(BR_NE_I) X(BR_LT_S_I) X(BR_LT_U_I) X(BR_GT_S_I) X(BR_GT_U_I) X(BR_LE_S_I) \
    X(BR_LE_U_I) X(BR_GE_S_I) X(BR_GE_U_I) \
    X(ADDBR_EQ) X(ADDBR_NE) X(ADDBR_LT_S) X(ADDBR_LT_U) X(ADDBR_GT_S) X(ADDBR_GT_U) \
    X(ADDBR_LE_S) X(ADDBR_LE_U) X(ADDBR_GE_S) X(ADDBR_GE_U) \
    X(ADDBR_EQ_I) X(ADDBR_NE_I) X(ADDBR_LT_S_I) X(ADDBR_LT_U_I) X(ADDBR_GT_S_I) \
    X(ADDBR_GT_U_I) X(ADDBR_LE_S_I) X(ADDBR_LE_U_I) X(ADDBR_GE_S_I) X(ADDBR_GE_U_I) \
    X(BRH_COPY) X(BRH_COPY2) X(BRH_ADD_I) X(BRH_ADD_I2) \
    X(BRT_LD_I32) X(BRT_LDA_I32) X(BRT_LDAI_I32) X(BRT_LDAS_I32) \
    X(XR2) X(XR3) X(XR2S)

/* Unary numeric ops: X(name, wasm opcode, input type, output type) */
#define WASM_UN_OPS(X) \
    X(I32_EQZ, 0x45, I32, I32) X(I64_EQZ, 0x50, I64, I32) \
    X(I32_CLZ, 0x67, I32, I32) X(I32_CTZ, 0x68, I32, I32) X(I32_POPCNT, 0x69, I32, I32) \
    X(I64_CLZ, 0x79, I64, I64) X(I64_CTZ, 0x7A, I64, I64) X(I64_POPCNT, 0x7B, I64, I64) \
    X(F32_ABS, 0x8B, F32, F32) X(F32_NEG, 0x8C, F32, F32) X(F32_CEIL, 0x8D, F32, F32) \
    X(F32_FLOOR, 0x8E, F32, F32) X(F32_TRUNC, 0x8F, F32, F32) X(F32_NEAREST, 0x90, F32, F32) \
    X(F32_SQRT, 0x91, F32, F32) \
    X(F64_ABS, 0x99, F64, F64) X(F64_NEG, 0x9A, F64, F64) X(F64_CEIL, 0x9B, F64, F64) \
    X(F64_FLOOR, 0x9C, F64, F64) X(F64_TRUNC, 0x9D, F64, F64) X(F64_NEAREST, 0x9E, F64, F64) \
    X(F64_SQRT, 0x9F, F64, F64) \
    X(I32_WRAP_I64, 0xA7, I64, I32) \
    X(I32_TRUNC_F32_S, 0xA8, F32, I32) X(I32_TRUNC_F32_U, 0xA9, F32, I32) \
    X(I32_TRUNC_F64_S, 0xAA, F64, I32) X(I32_TRUNC_F64_U, 0xAB, F64, I32) \
    X(I64_EXTEND_I32_S, 0xAC, I32, I64) X(I64_EXTEND_I32_U, 0xAD, I32, I64) \
    X(I64_TRUNC_F32_S, 0xAE, F32, I64) X(I64_TRUNC_F32_U, 0xAF, F32, I64) \
    X(I64_TRUNC_F64_S, 0xB0, F64, I64) X(I64_TRUNC_F64_U, 0xB1, F64, I64) \
    X(F32_CONVERT_I32_S, 0xB2, I32, F32) X(F32_CONVERT_I32_U, 0xB3, I32, F32) \
    X(F32_CONVERT_I64_S, 0xB4, I64, F32) X(F32_CONVERT_I64_U, 0xB5, I64, F32) \
    X(F32_DEMOTE_F64, 0xB6, F64, F32) \
    X(F64_CONVERT_I32_S, 0xB7, I32, F64) X(F64_CONVERT_I32_U, 0xB8, I32, F64) \
    X(F64_CONVERT_I64_S, 0xB9, I64, F64) X(F64_CONVERT_I64_U, 0xBA, I64, F64) \
    X(F64_PROMOTE_F32, 0xBB, F32, F64) \
    X(I32_EXTEND8_S, 0xC0, I32, I32) X(I32_EXTEND16_S, 0xC1, I32, I32) \
    X(I64_EXTEND8_S, 0xC2, I64, I64) X(I64_EXTEND16_S, 0xC3, I64, I64) \
    X(I64_EXTEND32_S, 0xC4, I64, I64) \
    X(I32_TRUNC_SAT_F32_S, 0x100, F32, I32) X(I32_TRUNC_SAT_F32_U, 0x101, F32, I32) \
    X(I32_TRUNC_SAT_F64_S, 0x102, F64, I32) X(I32_TRUNC_SAT_F64_U, 0x103, F64, I32) \
    X(I64_TRUNC_SAT_F32_S, 0x104, F32, I64) X(I64_TRUNC_SAT_F32_U, 0x105, F32, I64) \
    X(I64_TRUNC_SAT_F64_S, 0x106, F64, I64) X(I64_TRUNC_SAT_F64_U, 0x107, F64, I64)

/* Binary integer ops (also get an _I variant with an immediate right operand):
 * X(name, wasm opcode, input type, output type) */
#define WASM_IBIN_OPS(X) \
    X(I32_EQ, 0x46, I32, I32) X(I32_NE, 0x47, I32, I32) X(I32_LT_S, 0x48, I32, I32) \
    X(I32_LT_U, 0x49, I32, I32) X(I32_GT_S, 0x4A, I32, I32) X(I32_GT_U, 0x4B, I32, I32) \
    X(I32_LE_S, 0x4C, I32, I32) X(I32_LE_U, 0x4D, I32, I32) X(I32_GE_S, 0x4E, I32, I32) \
    X(I32_GE_U, 0x4F, I32, I32) \
    X(I64_EQ, 0x51, I64, I32) X(I64_NE, 0x52, I64, I32) X(I64_LT_S, 0x53, I64, I32) \
    X(I64_LT_U, 0x54, I64, I32) X(I64_GT_S, 0x55, I64, I32) X(I64_GT_U, 0x56, I64, I32) \
    X(I64_LE_S, 0x57, I64, I32) X(I64_LE_U, 0x58, I64, I32) X(I64_GE_S, 0x59, I64, I32) \
    X(I64_GE_U, 0x5A, I64, I32) \
    X(I32_ADD, 0x6A, I32, I32) X(I32_SUB, 0x6B, I32, I32) X(I32_MUL, 0x6C, I32, I32) \
    X(I32_DIV_S, 0x6D, I32, I32) X(I32_DIV_U, 0x6E, I32, I32) X(I32_REM_S, 0x6F, I32, I32) \
    X(I32_REM_U, 0x70, I32, I32) X(I32_AND, 0x71, I32, I32) X(I32_OR, 0x72, I32, I32) \
    X(I32_XOR, 0x73, I32, I32) X(I32_SHL, 0x74, I32, I32) X(I32_SHR_S, 0x75, I32, I32) \
    X(I32_SHR_U, 0x76, I32, I32) X(I32_ROTL, 0x77, I32, I32) X(I32_ROTR, 0x78, I32, I32) \
    X(I64_ADD, 0x7C, I64, I64) X(I64_SUB, 0x7D, I64, I64) X(I64_MUL, 0x7E, I64, I64) \
    X(I64_DIV_S, 0x7F, I64, I64) X(I64_DIV_U, 0x80, I64, I64) X(I64_REM_S, 0x81, I64, I64) \
    X(I64_REM_U, 0x82, I64, I64) X(I64_AND, 0x83, I64, I64) X(I64_OR, 0x84, I64, I64) \
    X(I64_XOR, 0x85, I64, I64) X(I64_SHL, 0x86, I64, I64) X(I64_SHR_S, 0x87, I64, I64) \
    X(I64_SHR_U, 0x88, I64, I64) X(I64_ROTL, 0x89, I64, I64) X(I64_ROTR, 0x8A, I64, I64)

/* Binary float ops: X(name, wasm opcode, input type, output type) */
#define WASM_FBIN_OPS(X) \
    X(F32_EQ, 0x5B, F32, I32) X(F32_NE, 0x5C, F32, I32) X(F32_LT, 0x5D, F32, I32) \
    X(F32_GT, 0x5E, F32, I32) X(F32_LE, 0x5F, F32, I32) X(F32_GE, 0x60, F32, I32) \
    X(F64_EQ, 0x61, F64, I32) X(F64_NE, 0x62, F64, I32) X(F64_LT, 0x63, F64, I32) \
    X(F64_GT, 0x64, F64, I32) X(F64_LE, 0x65, F64, I32) X(F64_GE, 0x66, F64, I32) \
    X(F32_ADD, 0x92, F32, F32) X(F32_SUB, 0x93, F32, F32) X(F32_MUL, 0x94, F32, F32) \
    X(F32_DIV, 0x95, F32, F32) X(F32_MIN, 0x96, F32, F32) X(F32_MAX, 0x97, F32, F32) \
    X(F32_COPYSIGN, 0x98, F32, F32) \
    X(F64_ADD, 0xA0, F64, F64) X(F64_SUB, 0xA1, F64, F64) X(F64_MUL, 0xA2, F64, F64) \
    X(F64_DIV, 0xA3, F64, F64) X(F64_MIN, 0xA4, F64, F64) X(F64_MAX, 0xA5, F64, F64) \
    X(F64_COPYSIGN, 0xA6, F64, F64)

/* Fused i32 pairs FU_<P>_<C>: d = C(P(x, y), z), i.e. an i32 binop P (slot+slot, or
 * slot+immediate for the _I forms) whose result feeds the i32 binop C; cells
 * [h][d][x][y][z]. The compiler fuses only when P's result is C's left operand, or
 * its right operand with C commutative (SUB is never fused from the right).
 * Y(P, expression of a and b, C, C's C operator) */
#define WASM_FUSE_C(Y, P, E) Y(P, E, ADD, +) Y(P, E, SUB, -) Y(P, E, XOR, ^) Y(P, E, AND, &) Y(P, E, OR, |)
#define WASM_FUSED_SS(Y) \
    WASM_FUSE_C(Y, ADD, a + b) WASM_FUSE_C(Y, SUB, a - b) WASM_FUSE_C(Y, XOR, a ^ b) \
    WASM_FUSE_C(Y, AND, a & b) WASM_FUSE_C(Y, OR, a | b) WASM_FUSE_C(Y, MUL, a * b)
#define WASM_FUSED_SI(Y) \
    WASM_FUSE_C(Y, ADD_I, a + b) WASM_FUSE_C(Y, XOR_I, a ^ b) WASM_FUSE_C(Y, AND_I, a & b) \
    WASM_FUSE_C(Y, OR_I, a | b) WASM_FUSE_C(Y, MUL_I, a * b) \
    WASM_FUSE_C(Y, SHL_I, a << (b & 31)) WASM_FUSE_C(Y, SHR_U_I, a >> (b & 31)) \
    WASM_FUSE_C(Y, SHR_S_I, (uint32_t)((int32_t)a >> (b & 31))) \
    WASM_FUSE_C(Y, ROTL_I, rotl32(a, b)) WASM_FUSE_C(Y, ROTR_I, rotr32(a, b))

/* Fused i32 pairs with an immediate second operand FUK_<P>_<C>: d = C(P(x, y), k)
 * with P a slot+slot binop (FUK_) or slot+immediate binop (FUKI_, y an immediate too),
 * and C one of the _I forms; cells [h][d][x][y][k]. E is P's expression of a and b, F
 * C's expression of t (P's result) and k. */
#define WASM_FUSE_K(Y, P, E) \
    Y(P, E, ADD_I, t + k) Y(P, E, AND_I, t & k) Y(P, E, OR_I, t | k) Y(P, E, XOR_I, t ^ k) \
    Y(P, E, MUL_I, t * k) Y(P, E, SHL_I, t << (k & 31)) Y(P, E, SHR_U_I, t >> (k & 31)) \
    Y(P, E, SHR_S_I, (uint32_t)((int32_t)t >> (k & 31))) Y(P, E, ROTL_I, rotl32(t, k)) \
    Y(P, E, ROTR_I, rotr32(t, k))
#define WASM_FUSED_KS(Y) \
    WASM_FUSE_K(Y, ADD, a + b) WASM_FUSE_K(Y, SUB, a - b) WASM_FUSE_K(Y, XOR, a ^ b) \
    WASM_FUSE_K(Y, AND, a & b) WASM_FUSE_K(Y, OR, a | b) WASM_FUSE_K(Y, MUL, a * b)
#define WASM_FUSED_KI(Y) \
    WASM_FUSE_K(Y, ADD_I, a + b) WASM_FUSE_K(Y, AND_I, a & b) WASM_FUSE_K(Y, OR_I, a | b) \
    WASM_FUSE_K(Y, XOR_I, a ^ b) WASM_FUSE_K(Y, MUL_I, a * b) \
    WASM_FUSE_K(Y, SHL_I, a << (b & 31)) WASM_FUSE_K(Y, SHR_U_I, a >> (b & 31)) \
    WASM_FUSE_K(Y, SHR_S_I, (uint32_t)((int32_t)a >> (b & 31))) \
    WASM_FUSE_K(Y, ROTL_I, rotl32(a, b)) WASM_FUSE_K(Y, ROTR_I, rotr32(a, b))

/* Fused f64 pairs FUF_<P>_<C>: d = C(P(x, y), z) in f64 (x, y, z slots), as above;
 * only the final result is NaN-canonicalised (an intermediate NaN gives a NaN result
 * anyway), and the engine is built with -ffp-contract=off so P's result is rounded
 * before C, exactly as two instructions. */
#define WASM_FUSE_FC(Y, P, E) Y(P, E, ADD, +) Y(P, E, SUB, -) Y(P, E, MUL, *)
#define WASM_FUSED_FF(Y) \
    WASM_FUSE_FC(Y, ADD, a + b) WASM_FUSE_FC(Y, SUB, a - b) WASM_FUSE_FC(Y, MUL, a * b)

enum wop {
#define X_CTRL(n) OP_##n,
#define X_NUM(n, c, ti, to) OP_##n,
#define X_IBIN(n, c, ti, to) OP_##n, OP_##n##_I,
    WASM_CTRL_OPS(X_CTRL)
    WASM_UN_OPS(X_NUM)
    WASM_IBIN_OPS(X_IBIN)
    WASM_FBIN_OPS(X_NUM)
#define Y_FUSED(P, E, C, O) OP_FU_##P##_##C,
    WASM_FUSED_SS(Y_FUSED)
    WASM_FUSED_SI(Y_FUSED)
#undef Y_FUSED
#define Y_FUSED(P, E, C, O) OP_FUF_##P##_##C,
    WASM_FUSED_FF(Y_FUSED)
#undef Y_FUSED
#define Y_FUSED(P, E, C, F) OP_FUK_##P##_##C,
    WASM_FUSED_KS(Y_FUSED)
    WASM_FUSED_KI(Y_FUSED)
#undef Y_FUSED
    OP__COUNT
#undef X_CTRL
#undef X_NUM
#undef X_IBIN
};

#endif
