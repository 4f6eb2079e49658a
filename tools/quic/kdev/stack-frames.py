#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Report Rust functions of an object whose stack frame exceeds a limit.

Kernel stacks are 16 KiB: one large frame (a big array or a large struct
moved by value) can overflow it, as KUnit showed. Usage:
  stack-frames.py OBJECT LIMIT_BYTES
Exits 1 if any function's frame (its `sub $N, %rsp`) is over the limit.
"""
import re
import subprocess
import sys

obj, limit = sys.argv[1], int(sys.argv[2])
dis = subprocess.run(["llvm-objdump-19", "-d", "--no-show-raw-insn", "--demangle", obj],
                     capture_output=True, text=True, check=True).stdout
fn, worst = None, {}
for line in dis.splitlines():
    m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
    if m:
        fn = m.group(1)
        continue
    m = re.search(r"subq?\s+\$0x([0-9a-f]+),\s*%rsp", line)
    if m and fn:
        worst[fn] = max(worst.get(fn, 0), int(m.group(1), 16))
over = sorted(((v, f) for f, v in worst.items() if v > limit), reverse=True)
for v, f in over:
    print("%6d bytes  %s" % (v, f))
print("%d functions with a frame over %d bytes (largest: %d)"
      % (len(over), limit, max(worst.values()) if worst else 0))
sys.exit(1 if over else 0)
