;; loop.wat: a busy loop for fuel tests. (count N) runs N iterations and returns
;; the sum 0+1+...+(N-1) as i64; (grow N) grows memory by N pages one at a time and
;; returns how many grows succeeded.
(module
  (memory 1)
  (func (export "count") (param $n i32) (result i64)
    (local $i i32) (local $s i64)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i64.add (local.get $s) (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $s))
  (func (export "grow") (param $n i32) (result i32)
    (local $ok i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (local.set $ok (i32.add (local.get $ok) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $ok)))
