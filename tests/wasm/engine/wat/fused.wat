;; fused.wat: control-flow superinstructions, checked against C by wasm_engine_fused.
;; brh_*: a loop whose first instruction is a COPY / COPY2 / I32_ADD_I / I32_ADD_I2
;; and whose back edge is an unconditional br (BRH_<op>). C model of each in
;; engine_test.c (brh_model).
;; brt_*: br_table whose index is an i32 load (BRT_<load>), from memory at p (+ q).
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
)
