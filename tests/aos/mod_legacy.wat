;; tests/aos/mod_legacy.wat: the shape of a module of the legacy loader's
;; wasm32-unknown-emscripten format: imports from module "a" under minified names
;; (f = fd_write, q = emscripten_resize_heap, D = abort), exports E (memory),
;; F (constructors), G (handle), J (malloc), M/N/O (stackSave/stackRestore/stackAlloc)
;; and no free. handle() writes a line to stdout and answers a fixed JSON result;
;; the constructor sets a flag that handle() checks, so a missed F call shows.
;; A first fd_write with an out-of-bounds iovec must fail with EFAULT (21).
(module
  (import "a" "f" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "a" "q" (func $resize (param i32) (result i32)))
  (import "a" "D" (func $abort))
  (memory (export "E") 2)
  (global $sp (mut i32) (i32.const 65536))
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 1024) "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"legacy\"}}}\00")
  (data (i32.const 2048) "legacy stdout\n")
  (func (export "F") (i32.store (i32.const 4000) (i32.const 1)))
  (func (export "J") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "M") (result i32) (global.get $sp))
  (func (export "N") (param $v i32) (global.set $sp (local.get $v)))
  (func (export "O") (param $n i32) (result i32)
    (global.set $sp (i32.and (i32.sub (global.get $sp) (local.get $n)) (i32.const -16)))
    (global.get $sp))
  (func (export "G") (param $msg i32) (param $env i32) (result i32)
    (if (i32.eqz (i32.load (i32.const 4000))) (then (call $abort)))
    ;; the message must be on the stack (stackAlloc), below the initial stack pointer
    (if (i32.ge_u (local.get $msg) (i32.const 65536)) (then (call $abort)))
    ;; an iovec pointing past the memory: the shared WASI host says EFAULT (21)
    (i32.store (i32.const 3000) (i32.const 131000))
    (i32.store (i32.const 3004) (i32.const 100))
    (if (i32.ne (call $fd_write (i32.const 1) (i32.const 3000) (i32.const 1) (i32.const 3008))
                (i32.const 21))
      (then (call $abort)))
    (i32.store (i32.const 3000) (i32.const 2048))
    (i32.store (i32.const 3004) (i32.const 14))
    (drop (call $fd_write (i32.const 1) (i32.const 3000) (i32.const 1) (i32.const 3008)))
    (i32.const 1024)))
