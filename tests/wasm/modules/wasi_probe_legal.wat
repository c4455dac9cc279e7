;; wasi_probe_legal.wat: wasm32 imports under embedder-chosen names with the i64
;; arguments legalised into (low, high) i32 pairs, as old emscripten builds import
;; them; wasi_shared_test.c links them with aox_wasi_link_import.
(module
  (import "env" "seek_legal" (func $seek (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "clock_legal" (func $clock (param i32 i32 i32 i32) (result i64)))
  (import "a" "q" (func $sizes (param i32 i32) (result i32)))
  (import "env" "not_wasi" (func $nosys (param i32) (result i32)))
  (memory (export "memory") 1)
  ;; seek(fd, lo, hi, whence) -> errno; new offset (u64) at 16
  (func (export "seek") (param i32 i32 i32 i32) (result i32)
    (call $seek (local.get 0) (local.get 1) (local.get 2) (local.get 3) (i32.const 16)))
  ;; clock(id) -> the i64 result; time at 24
  (func (export "clock") (param i32) (result i64)
    (call $clock (local.get 0) (i32.const -1) (i32.const -1) (i32.const 24)))
  (func (export "sizes") (result i32) (call $sizes (i32.const 32) (i32.const 36)))
  (func (export "nosys") (result i32) (call $nosys (i32.const 0))))
