# SPDX-License-Identifier: GPL-2.0
#
# vm_profile.py: where the guest's instructions go, per measured transfer of
# the Debian benchmark; vm-report.py's module. Reads the insn_count
# plugin's profile (prof=, "interval <mark>" and "<address> <count>"
# lines), and the guest's tarball of "PT " lines in guest.log (kallsyms,
# the clients' and azblobd's memory maps, the function symbols of the
# files they mapped: bench/elf_syms.py), and attributes every executed
# block: kernel addresses to kallsyms' functions, user addresses to the
# file and function of the measured client's (or azblobd's) map, anything
# else to the other processes. Functions fall into the categories of
# CATEGORIES below, by name; the first rule that matches decides.
#
# Copyright (c) 2026 The hv_azure_blob authors

import base64
import bisect
import io
import os
import re
import tarfile

import elf_syms

KERNEL_START = 0xffff800000000000

# (category, where: "k" kernel / "u" user, regular expression on
# "name [module]" for the kernel and "file:name" for user space)
RULES = [
    ("VMBus packet: driver", "k", r"\[hv_azure_blob\]$"),
    ("VMBus packet: channel (vmbus_emu)", "k", r"\[(vmbus_emu|hv_vmbus)\]$"),
    ("virtio-net", "k", r"\[(virtio_net|virtio_ring|virtio_pci|virtio)\]$"
     r"|^(virtnet_|virtqueue_|vring_|virtio_|vp_)"),
    ("pinning (GUP)", "k", r"^(pin_user_pages|unpin_user_|__gup_|gup_|"
     r"get_user_pages|internal_get_user_pages|__get_user_pages|follow_page|"
     r"try_grab_|try_get_folio|lockless_pages_from_mm|is_valid_gup_args|"
     r"gup_fast|folio_add_pin|unpin_|check_and_migrate_movable|"
     r"__unpin|undo_dev_pagemap|follow_pmd|follow_p[mu4]d|follow_pfn)"),
    ("io_uring", "k", r"^(__)?io_(?!schedule)|^io_uring|\[io_uring\]$"),
    ("copies", "k", r"^(copy_user|rep_movs|rep_stos|__copy_user|_copy_to_user|"
     r"_copy_from_user|copy_page|memcpy|__memcpy|memmove|__memmove|"
     r"csum_partial_copy|_copy_to_iter|_copy_from_iter|copy_to_user|"
     r"copy_from_user|simple_copy_to_iter|__skb_datagram_iter|"
     r"skb_copy_datagram|copyin|copyout|copy_page_to_iter|"
     r"copy_page_from_iter|copy_mc|iov_iter_copy|memcpy_orig|"
     r"__memcpy_flushcache|fault_in_readable|fault_in_iov)"),
    ("TCP/IP", "k", r"^_*(tcp|ip|ipv4|ipv6|ip6|inet|inet6|sk|sock|skb|napi|"
     r"net|netif|netdev|dev|dst|nf|neigh|eth|qdisc|sch|pfifo|csum|udp|raw|"
     r"rps|gro|tcp4|tcp6|unix|loopback|validate_xmit|lock_sock|"
     r"release_sock|kfree_skb|consume_skb|alloc_skb|bpf|netlink|sock_diag|"
     r"inet_diag|security_sock|security_socket|apparmor_socket|sockfd|"
     r"move_addr|put_cmsg|scm|datagram|skb_attempt|build_skb|page_frag|"
     r"sk_page_frag|mem_cgroup_charge_skmem|mem_cgroup_uncharge_skmem)"
     r"([_0-9]|$)|tcp_|_tcp|skb_|_skb|sock_|_sock|_sk_|"
     r"^_*(x64_)?(sys|do_sys|ksys)_(sendto|recvfrom|sendmsg|recvmsg|connect|"
     r"accept|accept4|shutdown|socket|setsockopt|getsockopt|getpeername|"
     r"getsockname|bind|listen)"),
    ("waits (futex, epoll, poll)", "k", r"^(__)?(futex|ep_|do_epoll|epoll|"
     r"x64_sys_futex|x64_sys_epoll|x64_sys_ppoll|x64_sys_pselect|do_select|"
     r"core_sys_select|poll_|pollwake|x64_sys_nanosleep|hrtimer_nanosleep|"
     r"do_nanosleep|x64_sys_clock_nanosleep)"),
    ("syscall entry, exit, fds", "k", r"^(entry_SYSCALL|do_syscall_64|"
     r"syscall_exit|syscall_enter|exit_to_user_mode|__x64_sys_|x64_sys_call|"
     r"syscall_|__fdget|fdget|fput|__fput|__fget|fget|ksys_|"
     r"syscall_return|entry_SYSRETQ|__do_sys_|do_sys_|__se_sys|"
     r"switch_fpu|fpregs_|restore_fpregs|save_fpregs|fpu_|__fpu|"
     r"arch_exit_to_user|irqentry_exit_to_user|"
     r"rseq|__rseq)"),
    ("memory (faults, allocation, zeroing)", "k", r"^(__)?(exc_page_fault|"
     r"asm_exc_page_fault|do_user_addr_fault|handle_mm_fault|"
     r"do_anonymous_page|do_fault|do_wp_page|wp_page|do_read_fault|"
     r"do_shared_fault|filemap_map_pages|next_uptodate|set_pte_range|"
     r"alloc_pages|alloc_pages_|get_page_from_freelist|rmqueue|free_pcppages|"
     r"free_unref|free_pages|__free_pages|folio|lru|release_pages|zap_|"
     r"unmap_|mmap|do_mmap|vm_|vma|mm_|page_|pte_|pmd_|kmem_cache|kmalloc|"
     r"kfree|kvfree|kvmalloc|slab|___slab|memcg|mem_cgroup|mod_objcg|"
     r"obj_cgroup|clear_page|clear_huge|vmalloc|vfree|vmap|do_vmi|"
     r"flush_tlb|native_flush_tlb|tlb_|_raw_spin_lock_irqsave_nested|"
     r"mod_node_page_state|mod_lruvec|__mod_lruvec|__mod_node|"
     r"__count_memcg|count_memcg|lock_vma|lock_mm|mas_|mtree_|"
     r"percpu_counter|set_pte|ptep_|handle_pte|__pte|pfn_|"
     r"do_set_pte|__anon_vma|anon_vma|refill_obj|drain_obj|"
     r"__rmqueue|free_tail|prep_compound|post_alloc_hook|"
     r"___pte|try_charge|uncharge|__mem_cgroup|x64_sys_munmap|"
     r"x64_sys_mmap|x64_sys_brk|do_brk|x64_sys_madvise|do_madvise|"
     r"__do_munmap|do_munmap|unlink_anon|free_pgtables|"
     r"mlock|munlock|x64_sys_mprotect|mprotect|change_prot|mod_memcg|"
     r"mod_zone|free_one_page|get_pfnblock|xas_|mt_find|collapse_huge|"
     r"get_vma_policy|policy_nodemask|cond_accept_memory|get_mem_cgroup|"
     r"access_error|memset|khugepaged|hpage|thp_|huge_)"),
    ("files (shmem, pipes, /dev/null)", "k", r"^(__)?(shmem|filemap|generic_file|"
     r"vfs_|new_sync|file_|rw_verify_area|fsnotify|security_file|"
     r"apparmor_file|pipe_|anon_pipe|splice|do_splice|write_null|read_null|"
     r"x64_sys_read|x64_sys_write|x64_sys_pread|x64_sys_pwrite|"
     r"ext4_|jbd2|mpage|iomap|touch_atime|atime|inode_|generic_perform|"
     r"generic_write|filp_|do_filp|path_|link_path|walk_component|"
     r"lookup_|d_|dput|dget|seq_|proc_|kernfs|sysfs|single_open|"
     r"x64_sys_open|do_sys_open|x64_sys_close|close_fd|x64_sys_newfstat|"
     r"vfs_fstat|x64_sys_statx|do_statx|cp_new_stat|x64_sys_lseek|"
     r"ksys_lseek|x64_sys_getdents|iterate_dir)"),
    ("processes (fork, exec, exit)", "k", r"^(__)?(do_exit|do_group_exit|"
     r"copy_process|kernel_clone|x64_sys_clone|x64_sys_execve|do_execve|"
     r"load_elf|bprm_|begin_new_exec|exit_mmap|dup_mm|dup_mmap|copy_page_range|"
     r"copy_pte_range|copy_pmd|release_task|wait4|do_wait|x64_sys_wait4|"
     r"x64_sys_exit|mm_release|exit_|sched_fork|wake_up_new_task|"
     r"x64_sys_rt_sig|do_sigaction|signal_|do_signal|get_signal|"
     r"arch_do_signal|setup_rt_frame|x64_sys_kill|kill_|send_signal|"
     r"__send_signal|complete_signal|x64_sys_prctl|x64_sys_arch_prctl|"
     r"x64_sys_set_tid|x64_sys_getpid|x64_sys_gettid)"),
    ("scheduler, interrupts, timers, locks, idle", "k", r"^(__)?(schedule|"
     r"sched|pick_|put_prev|set_next|enqueue|dequeue|update_curr|"
     r"update_load|update_cfs|update_rq|update_blocked|try_to_wake_up|ttwu|"
     r"wake_up|autoremove_wake|default_wake|finish_task_switch|switch_to|"
     r"switch_mm|context_switch|psi_|cpuidle|default_idle|do_idle|"
     r"arch_cpu_idle|native_safe_halt|pv_native_safe_halt|cpu_startup|"
     r"tick|hrtimer|timerqueue|ktime|irq|handle_irq|handle_edge_irq|"
     r"handle_fasteoi|common_interrupt|sysvec|asm_sysvec|asm_common_interrupt|"
     r"apic|lapic|native_apic|x2apic|run_timer|rcu|raw_spin|_raw_spin|"
     r"queued_spin|native_queued|mutex|down_|up_|rwsem|irqentry|do_softirq|"
     r"handle_softirqs|local_bh|irq_exit|check_preempt|resched|"
     r"native_sched_clock|sched_clock|account_|cpuacct|cgroup_rstat|"
     r"task_tick|load_balance|newidle|nohz|kthread|worker_thread|"
     r"process_one_work|smp_|generic_smp|flush_smp|native_send_call|"
     r"default_send_IPI|send_call_function|reweight|place_entity|"
     r"avg_vruntime|pick_eevdf|vruntime|calc_|rb_|timekeeping|"
     r"clockevents|lapic_next|native_write_msr|native_read_msr|"
     r"read_tsc|ktime_get|x64_sys_sched_yield|do_sched_yield|yield|"
     r"prepare_to_wait|finish_wait|add_wait_queue|remove_wait_queue|"
     r"complete|wait_for_completion|percpu_|__percpu|preempt|"
     r"x86_pmu|perf_|cpu_|native_irq|restore_regs|error_entry|"
     r"asm_|ret_from|entry_)"),
    # OpenSSL's MD5 block function is not exported: it is the code that
    # follows MD4 (the md5 objects come after the md4 ones), and the only
    # libcrypto code a device transfer runs at every byte. The code after
    # MD5 is GHASH (TLS).
    ("MD5", "u", r"(libcrypto[^:]*:(MD5|md5|ossl_md5|\[local after MD4\])|"
     r":crypto/md5\.|:_md5|:md5)"),
    ("TLS and other crypto", "u", r"^(libssl|libcrypto|libgnutls|libnettle|"
     r"libhogweed|libgmp|_ssl|_hashlib)|:(crypto/|vendor/golang.org/x/crypto)"),
    ("HTTP library", "u", r"^(libcurl|libnghttp2|libpsl|libidn2|libbrotli|"
     r"libz|libzstd)|:(net/http|net/textproto|net/url|net\.|"
     r"github.com/Azure/azure-pipeline-go)"),
    ("copies", "u", r"^libc\.so[^:]*:(__)?(mem(cpy|move|set)|wmem|__mem)|"
     r":runtime\.(memmove|memclr)"),
    ("malloc and locks (libc)", "u", r"^libc\.so[^:]*:(_int_malloc|_int_free|"
     r"__libc_malloc|__libc_free|__libc_calloc|__libc_realloc|malloc|free|"
     r"cfree|calloc|realloc|_int_realloc|malloc_consolidate|tcache|"
     r"unlink_chunk|__pthread_rwlock|___pthread_rwlock|pthread_rwlock|"
     r"__pthread_mutex|___pthread_mutex|pthread_mutex|__lll_lock|"
     r"__lll_unlock|lll_|__GI___pthread)"),
    ("libc, other", "u", r"^(libc\.so|ld-linux|libpthread|libm\.so)"),
    ("client itself", "u", r"."),
]
_COMPILED = [(c, w, re.compile(r)) for c, w, r in RULES]


def categorize(where, name):
    for c, w, r in _COMPILED:
        if w == where and r.search(name):
            return c
    return "kernel, other" if where == "k" else "client itself"


class Symbols:
    """Function starts, sorted, with names and sizes."""

    def __init__(self):
        self.addrs, self.names, self.sizes = [], [], []

    def add(self, addr, size, name):
        self.addrs.append(addr)
        self.sizes.append(size)
        self.names.append(name)

    def sort(self):
        z = sorted(zip(self.addrs, self.sizes, self.names))
        self.addrs = [a for a, _, _ in z]
        self.sizes = [s for _, s, _ in z]
        self.names = [n for _, _, n in z]

    def lookup(self, a):
        i = bisect.bisect_right(self.addrs, a) - 1
        if i < 0:
            return "[before any symbol]"
        if self.sizes[i] and a >= self.addrs[i] + self.sizes[i]:
            return "[local after %s]" % self.names[i]
        return self.names[i]


class ElfFile:
    def __init__(self, path):
        self.build_id = None
        self.path = path
        self.base = os.path.basename(path)
        self.loads = []		# (file offset, vaddr, size)
        self.syms = Symbols()

    def name(self, file_off):
        for off, vaddr, size in self.loads:
            if off <= file_off < off + size:
                return self.syms.lookup(file_off - off + vaddr)
        return "[no segment]"


def parse_maps(text):
    """Executable file mappings: [(start, end, offset, path)], and comm."""
    out, comm = [], "?"
    for line in text.splitlines():
        if line.startswith("# pid "):
            w = line.split()
            comm = w[4] if len(w) > 4 else "?"
            continue
        w = line.split()
        if len(w) < 5 or "x" not in w[1]:
            continue
        a, b = w[0].split("-")
        path = w[5] if len(w) > 5 else "[anon]"
        out.append((int(a, 16), int(b, 16), int(w[2], 16), path))
    out.sort()
    return out, comm


DEBUG_DIR = "/usr/lib/debug/.build-id"


def debug_symbols(f):
    """Every function of f from the host's detached debug file of the same
    build (Debian's libc6-dbg covers libc and ld.so), when there is one."""
    if not f.build_id or len(f.build_id) < 3:
        return
    path = os.path.join(DEBUG_DIR, f.build_id[:2], f.build_id[2:] + ".debug")
    try:
        with open(path, "rb") as fd:
            d = fd.read()
    except OSError:
        return
    secs, _ = elf_syms.sections(d)
    funcs = elf_syms.elf_funcs(d, secs, elf_syms.SHT_SYMTAB)
    if not funcs:
        return
    f.syms = Symbols()
    seen = set()
    for value, size, name in funcs:
        if value not in seen:
            seen.add(value)
            f.syms.add(value, size, name)
    f.debug = path


class Guest:
    """The guest's side: kallsyms, maps by measurement label, ELF files."""

    def __init__(self, tar_bytes):
        self.kernel = Symbols()
        self.files = {}
        self.maps = {}		# label -> (maps, comm)
        self.daemon = ([], "")
        t = tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:gz")
        members = {m.name.lstrip("./"): m for m in t.getmembers()
                   if m.isfile()}

        def text(n):
            return t.extractfile(members[n]).read().decode(errors="replace")
        for line in text("kallsyms").splitlines():
            w = line.split()
            if len(w) < 3:
                continue
            name = w[2] + (" " + w[3] if len(w) > 3 else "")
            self.kernel.add(int(w[0], 16), 0, name)
        self.kernel.sort()
        f = None
        for line in text("syms").splitlines():
            w = line.split(" ", 3)
            if w[0] == "F":
                f = self.files[w[1]] = ElfFile(w[1])
            elif w[0] == "L" and f:
                f.loads.append(tuple(int(x, 16) for x in w[1:4]))
            elif w[0] == "B" and f:
                f.build_id = w[1]
            elif w[0] == "S" and f and len(w) == 4:
                f.syms.add(int(w[1], 16), int(w[2], 16), w[3])
        for f in self.files.values():
            debug_symbols(f)
            f.syms.sort()
        for line in text("index").splitlines():
            label, n = line.split("\t")
            if n in members:
                self.maps[label] = parse_maps(text(n))
        if "azblobd" in members:
            self.daemon = parse_maps(text("azblobd"))

    def user_name(self, maps, a):
        i = bisect.bisect_right(maps, (a, 1 << 64)) - 1
        if i < 0 or a >= maps[i][1]:
            return None
        start, _, off, path = maps[i]
        f = self.files.get(path)
        base = os.path.basename(path)
        if not f:
            return "%s:[no symbols]" % base
        return "%s:%s" % (base, f.name(a - start + off))


def read_tar(guest_log):
    """The base64 tarball of the guest's "PT " lines, or None."""
    chunks = []
    with open(guest_log, errors="replace") as f:
        for line in f:
            line = line.replace("\r", "").rstrip("\n")
            if line.startswith("PT "):
                chunks.append(line[3:].strip())
    if not chunks:
        return None
    return base64.b64decode("".join(chunks))


def read_intervals(prof):
    """{closing mark number: {address: instructions}}"""
    out, cur = {}, None
    with open(prof) as f:
        for line in f:
            w = line.split()
            if len(w) != 2:
                continue
            if w[0] == "interval":
                cur = out.setdefault(int(w[1]), {})
            elif cur is not None:
                a = int(w[0], 16)
                cur[a] = cur.get(a, 0) + int(w[1])
    return out


def attribute(guest, label, counts, with_daemon):
    """{(where, category, symbol): instructions} of one interval."""
    maps, comm = guest.maps.get(label, ([], "?"))
    dmaps = guest.daemon[0] if with_daemon else []
    out = {}
    cache = {}
    for a, n in counts.items():
        if a >= KERNEL_START:
            name = guest.kernel.lookup(a)
            key = ("k", categorize("k", name), name)
        else:
            key = cache.get(a)
            if key is None:
                name = guest.user_name(maps, a)
                if name is not None:
                    key = ("u", categorize("u", name), name)
                else:
                    name = guest.user_name(dmaps, a) if dmaps else None
                    if name is not None:
                        key = ("u", "azblobd: " + categorize("u", name),
                               name)
                    else:
                        key = ("u", "other processes (user)", "[other]")
                cache[a] = key
        out[key] = out.get(key, 0) + n
    return out, comm


def profile_samples(runs, prof_path, guest_log, gib_of, daemon_paths):
    """Adds "profile" (categories, top symbols, per GiB) to each run
    that has a "mark_end" and an interval; returns a note or None."""
    if not prof_path or not os.path.exists(prof_path):
        return "no profile file"
    tar = read_tar(guest_log)
    if tar is None:
        return "no symbols from the guest (no PT lines)"
    guest = Guest(tar)
    intervals = read_intervals(prof_path)
    for r in runs:
        counts = intervals.get(r.get("mark_end"))
        if counts is None or r.get("kind") != "path":
            continue
        by, comm = attribute(guest, r["label"], counts,
                             r["path"] in daemon_paths)
        g = gib_of(r)
        cats = {}
        for (where, cat, _), n in by.items():
            k = ("kernel: " if where == "k" else "user: ") + cat
            cats[k] = cats.get(k, 0) + n
        top = sorted(by.items(), key=lambda kv: -kv[1])[:25]
        total = sum(by.values())
        r["profile"] = {
            "client": comm,
            "insns": total,
            "categories_per_gib": {k: v / g for k, v in
                                   sorted(cats.items(), key=lambda kv: -kv[1])},
            "top_per_gib": [{"where": w, "category": c, "symbol": s,
                             "per_gib": n / g} for (w, c, s), n in top],
        }
    return None
