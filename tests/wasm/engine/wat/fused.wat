;; fused.wat: control-flow superinstructions, checked against C by wasm_engine_fused.
;; brh_*: a loop whose first instruction is a COPY / COPY2 / I32_ADD_I / I32_ADD_I2
;; and whose back edge is an unconditional br (BRH_<op>). C model of each in
;; engine_test.c (brh_model).
;; brt_*: br_table whose index is an i32 load (BRT_<load>), from memory at p (+ q).
;; xr*: xors of rotations by immediates (XR2, XR3, XR2S), and shapes that must not
;; fuse (the rotation also read through a local, a label in between).
(module
  (memory (export "mem") 1)

  ;; a = 7; s = 0; for (;;) { b = a; if (!n) break; a = b * 31 + n; n--; s ^= b; }
  ;; return s + b
  (func (export "brh_copy") (param $n i32) (result i32) (local $a i32) (local $b i32) (local $s i32)
    (local.set $a (i32.const 7))
    (block $out
      (loop $top
        (local.set $b (local.get $a))
        (br_if $out (i32.eqz (local.get $n)))
        (local.set $a (i32.add (i32.mul (local.get $b) (i32.const 31)) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (local.set $s (i32.xor (local.get $s) (local.get $b)))
        (br $top)))
    (i32.add (local.get $s) (local.get $b)))

  ;; as brh_copy, and also c = s at the top: return s + b + c * 3
  (func (export "brh_copy2") (param $n i32) (result i32)
    (local $a i32) (local $b i32) (local $s i32) (local $c i32)
    (local.set $a (i32.const 7))
    (block $out
      (loop $top
        (local.set $b (local.get $a))
        (local.set $c (local.get $s))
        (br_if $out (i32.eqz (local.get $n)))
        (local.set $a (i32.add (i32.mul (local.get $b) (i32.const 31)) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (local.set $s (i32.xor (local.get $c) (local.get $b)))
        (br $top)))
    (i32.add (i32.add (local.get $s) (local.get $b)) (i32.mul (local.get $c) (i32.const 3))))

  ;; a = 7; s = 0; for (;;) { b = a + 0x7FFFFFFD; if (!n) break; a = b * 31 ^ n; n--;
  ;; s += b; } return s ^ b
  (func (export "brh_add") (param $n i32) (result i32) (local $a i32) (local $b i32) (local $s i32)
    (local.set $a (i32.const 7))
    (block $out
      (loop $top
        (local.set $b (i32.add (local.get $a) (i32.const 0x7FFFFFFD)))
        (br_if $out (i32.eqz (local.get $n)))
        (local.set $a (i32.xor (i32.mul (local.get $b) (i32.const 31)) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (local.set $s (i32.add (local.get $s) (local.get $b)))
        (br $top)))
    (i32.xor (local.get $s) (local.get $b)))

  ;; as brh_add, and also c = s - 5 at the top: return (s ^ b) + c
  (func (export "brh_add2") (param $n i32) (result i32)
    (local $a i32) (local $b i32) (local $s i32) (local $c i32)
    (local.set $a (i32.const 7))
    (block $out
      (loop $top
        (local.set $b (i32.add (local.get $a) (i32.const 0x7FFFFFFD)))
        (local.set $c (i32.add (local.get $s) (i32.const -5)))
        (br_if $out (i32.eqz (local.get $n)))
        (local.set $a (i32.xor (i32.mul (local.get $b) (i32.const 31)) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (local.set $s (i32.add (local.get $c) (local.get $b)))
        (br $top)))
    (i32.add (i32.xor (local.get $s) (local.get $b)) (local.get $c)))

  ;; 10, 20, 30 for indices 0, 1, 2; 40 for anything else
  (func (export "brt_ld") (param $p i32) (param $q i32) (result i32)
    (block $d (block $c (block $b (block $a
      (br_table $a $b $c $d (i32.load offset=4 (local.get $p))))
      (return (i32.const 10)))
      (return (i32.const 20)))
      (return (i32.const 30)))
    (i32.const 40))
  (func (export "brt_lda") (param $p i32) (param $q i32) (result i32)
    (block $d (block $c (block $b (block $a
      (br_table $a $b $c $d (i32.load offset=4 (i32.add (local.get $p) (local.get $q)))))
      (return (i32.const 10)))
      (return (i32.const 20)))
      (return (i32.const 30)))
    (i32.const 40))
  (func (export "brt_ldai") (param $p i32) (param $q i32) (result i32)
    (block $d (block $c (block $b (block $a
      (br_table $a $b $c $d (i32.load offset=4 (i32.add (local.get $p) (i32.const 8)))))
      (return (i32.const 10)))
      (return (i32.const 20)))
      (return (i32.const 30)))
    (i32.const 40))
  ;; with a value carried to the label (q + label's constant)
  (func (export "brt_ldas") (param $p i32) (param $q i32) (result i32)
    (block $d (result i32) (block $c (result i32) (block $b (result i32) (block $a (result i32)
      (br_table $a $b $c $d (local.get $q)
        (i32.load (i32.add (local.get $p) (i32.shl (local.get $q) (i32.const 2))))))
      (return (i32.add (i32.const 10))))
      (return (i32.add (i32.const 20))))
      (return (i32.add (i32.const 30))))
    (i32.add (i32.const 40)))
;; rotl(x, 7) ^ rotl(y, 45)
  (func (export "xr2") (param $x i32) (param $y i32) (result i32)
    (i32.xor (i32.rotl (local.get $x) (i32.const 7)) (i32.rotl (local.get $y) (i32.const 45))))
  ;; rotl(x, 7) ^ rotl(y, 13) ^ rotl(x, 22)
  (func (export "xr3") (param $x i32) (param $y i32) (result i32)
    (i32.xor (i32.xor (i32.rotl (local.get $x) (i32.const 7)) (i32.rotl (local.get $y) (i32.const 13)))
             (i32.rotl (local.get $x) (i32.const 22))))
  ;; rotl(x, 25) ^ rotl(y, 14) ^ (x >> 35 & 31)
  (func (export "xr2s") (param $x i32) (param $y i32) (result i32)
    (i32.xor (i32.xor (i32.rotl (local.get $x) (i32.const 25)) (i32.rotl (local.get $y) (i32.const 14)))
             (i32.shr_u (local.get $x) (i32.const 35))))
  ;; rotl(mem[x], 5) ^ rotl(y, 9): the first rotation's input is its own stack slot
  (func (export "xr2m") (param $x i32) (param $y i32) (result i32)
    (i32.xor (i32.rotl (i32.load (local.get $x)) (i32.const 5)) (i32.rotl (local.get $y) (i32.const 9))))
  ;; t = rotl(x, 7); (t ^ rotl(y, 13)) + t
  (func (export "xr_tee") (param $x i32) (param $y i32) (result i32) (local $t i32)
    (i32.add (i32.xor (local.tee $t (i32.rotl (local.get $x) (i32.const 7)))
                      (i32.rotl (local.get $y) (i32.const 13)))
             (local.get $t)))
  ;; a block ends between the rotations: rotl(x, 7) ^ rotl(y, 13), or 5 ^ rotl(y, 13)
  ;; when x == 0 (branch to the block end carrying 5)
  (func (export "xr_label") (param $x i32) (param $y i32) (result i32)
    (i32.xor (block (result i32)
               (br_if 0 (i32.const 5) (i32.eqz (local.get $x)))
               (drop)
               (i32.rotl (local.get $x) (i32.const 7)))
             (i32.rotl (local.get $y) (i32.const 13))))
)
