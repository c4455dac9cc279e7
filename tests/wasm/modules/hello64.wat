;; hello64.wat: a memory64 WASI command (64-bit pointers and sizes): writes its
;; argument strings (NUL-separated, argv[0] first) to stdout with one fd_write of a
;; 16-byte iovec, then exits with args count + 40. Exit 98: argv[1] does not point
;; right after argv[0]; 99: fd_write failed or its 8-byte count is wrong.
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args (param i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i64 i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") i64 1)
  (func (export "_start")
    (local $argc i64) (local $len i64) (local $i i64)
    (drop (call $sizes (i64.const 0) (i64.const 8)))
    (local.set $argc (i64.load (i64.const 0)))
    (local.set $len (i64.load (i64.const 8)))
    (drop (call $args (i64.const 1024) (i64.const 4096)))
    ;; length of argv[0]: scan to its NUL
    (block $done
      (loop $scan
        (br_if $done (i32.eqz (i32.load8_u (i64.add (i64.const 4096) (local.get $i)))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $scan)))
    (if (i64.gt_u (local.get $argc) (i64.const 1))
      (then
        (if (i64.ne (i64.load (i64.const 1032))
                    (i64.add (i64.const 4097) (local.get $i)))
          (then (call $proc_exit (i32.const 98))))))
    (i64.store (i64.const 16) (i64.const 4096))
    (i64.store (i64.const 24) (local.get $len))
    (i64.store (i64.const 32) (i64.const -1))
    (if (i32.ne (call $fd_write (i32.const 1) (i64.const 16) (i64.const 1) (i64.const 32)) (i32.const 0))
      (then (call $proc_exit (i32.const 99))))
    (if (i64.ne (i64.load (i64.const 32)) (local.get $len))
      (then (call $proc_exit (i32.const 99))))
    (call $proc_exit (i32.add (i32.wrap_i64 (local.get $argc)) (i32.const 40)))
    unreachable))
