;; hello.wat: a hand-written WASI command: writes "hello from wat\n" to stdout,
;; "err\n" to stderr, then calls proc_exit(args_count + 40) so the exit status
;; shows argument passing (no args -> 41: argv[0] only).
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  ;; an import we do not implement: must link (ENOSYS stub) and return 52
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from wat\n")
  (data (i32.const 48) "err\n")
  (func (export "_start")
    ;; iovec at 0: {16, 15}
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 15))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 0) (i32.const 48))
    (i32.store (i32.const 4) (i32.const 4))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
    ;; path_open must say ENOSYS (52), else exit 99
    (if (i32.ne (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 0)
                   (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 64))
                (i32.const 52))
      (then (call $proc_exit (i32.const 99))))
    (drop (call $args_sizes_get (i32.const 100) (i32.const 104)))
    (call $proc_exit (i32.add (i32.load (i32.const 100)) (i32.const 40)))
    unreachable))
