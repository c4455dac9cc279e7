;; start_loop.wat: a module whose start function does metered work (1000 loop
;; iterations summing into a global). Regression for fuel and start functions:
;; with metering on, the start function used to run on zero fuel and every such
;; module failed "out of fuel" at instantiation. (get) returns the global.
(module
  (global $sum (mut i64) (i64.const 0))
  (func $start
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (i32.const 1000)))
        (global.set $sum (i64.add (global.get $sum) (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))))
  (start $start)
  (func (export "get") (result i64) (global.get $sum)))
