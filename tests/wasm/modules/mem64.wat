;; mem64.wat: memory64 (i64 addresses). (fill_sum n) stores i*i as i64 at addresses
;; 8*i for i < n, spread over several pages, reads them back and returns the sum;
;; (size) is memory.size (an i64); (oob) loads past the end and must trap.
(module
  (memory i64 4 8)
  (func (export "fill_sum") (param $n i64) (result i64)
    (local $i i64) (local $s i64)
    (block $d (loop $l
      (br_if $d (i64.ge_u (local.get $i) (local.get $n)))
      (i64.store (i64.mul (local.get $i) (i64.const 8)) (i64.mul (local.get $i) (local.get $i)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $l)))
    (local.set $i (i64.const 0))
    (block $d (loop $l
      (br_if $d (i64.ge_u (local.get $i) (local.get $n)))
      (local.set $s (i64.add (local.get $s) (i64.load (i64.mul (local.get $i) (i64.const 8)))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $l)))
    (local.get $s))
  (func (export "grow_to") (param $p i64) (result i64)
    (memory.grow (i64.sub (local.get $p) (memory.size))))
  (func (export "size") (result i64) (memory.size))
  (func (export "oob") (result i64) (i64.load (i64.const 0x40000))))
