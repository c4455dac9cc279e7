(module
  (import "env" "add" (func $add (param i32 i32) (result i32)))
  (import "env" "invoke" (func $invoke (param i32 i32) (result i32)))
  (import "env" "hthrow" (func $hthrow (param i32)))
  (import "env" "htrap" (func $htrap))
  (tag $e (export "e") (param i32))
  (memory (export "mem") 1)
  (table (export "tab") 5 funcref)
  (elem (i32.const 0) $ok $trapper $thrower $reenter $deep)
  (func $ok (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $trapper (param i32) (result i32) unreachable)
  (func $thrower (param i32) (result i32) (throw $e (local.get 0)))
  (func $reenter (param i32) (result i32) (call $invoke (i32.const 0) (local.get 0)))
  ;; unbounded host <-> guest recursion: must end in a trap, not a native stack overflow
  (func $deep (param i32) (result i32) (call $invoke (i32.const 4) (local.get 0)))
  (func (export "call_add") (param i32 i32) (result i32) (call $add (local.get 0) (local.get 1)))
  ;; invoke_*-style: host calls table[i](x); -1 when the callee trapped/threw
  (func (export "via_host") (param i32 i32) (result i32) (call $invoke (local.get 0) (local.get 1)))
  (func (export "catch_host") (param i32) (result i32)
    (try (result i32)
      (do (call $hthrow (local.get 0)) (i32.const -1))
      (catch $e (i32.add (i32.const 1000)))))
  (func (export "host_trap") (call $htrap))
  (func (export "uncaught") (param i32) (throw $e (local.get 0)))
  (func (export "catch_all") (param i32) (result i32)
    (try (result i32)
      (do (call $thrower (local.get 0)))
      (catch_all (i32.const 42))))

  ;; many caught exceptions in one call (collection of dead exception objects)
  (func (export "throw_loop") (param i32) (result i32) (local i32)
    (loop $l
      (try (do (throw $e (local.get 0)))
        (catch $e (local.set 1 (i32.add (local.get 1)))))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1))
  ;; a caught exception stays alive while its catch runs many more throws
  (func (export "gc_rethrow") (result i32) (local i32)
    (try (result i32)
      (do
        (try (do (throw $e (i32.const 5)))
          (catch $e
            drop
            (local.set 0 (i32.const 10000))
            (loop $l
              (try (do (throw $e (local.get 0))) (catch $e drop))
              (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
            (rethrow 0)))
        (i32.const -1))
      (catch $e)))
)
