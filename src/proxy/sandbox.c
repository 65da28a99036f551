/*
 * sandbox.c: the seccomp filter of a proxy worker thread (listen.sandbox,
 * issue 19). A worker parses untrusted HTTP; if a bug there ever lets a
 * client run code in it, that code should not be able to start a
 * program, trace or write another process, change ids or capabilities,
 * mount, load modules or BPF, or create, change or remove files. The
 * filter is installed by each worker thread on itself (no TSYNC: the
 * control thread, which forks services and writes snapshots, keeps every
 * call) and denies those calls with EPERM: a deny-list, so that the
 * production path never dies of a call nobody foresaw (the event loop,
 * malloc and libevent need nothing it names). It does not make a worker
 * a separate process: a compromised thread still shares the daemon's
 * memory (docs/security.md says what is not defended).
 */
#include "proxy/proxy_int.h"

#include "base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>

/* Calls a worker never makes, denied outright. */
static const int denied[] = {
    /* programs and processes */
    SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(fork), SCMP_SYS(vfork),
    SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv),
    SCMP_SYS(process_vm_writev), SCMP_SYS(kill), SCMP_SYS(tkill),
    SCMP_SYS(pidfd_open), SCMP_SYS(pidfd_send_signal), SCMP_SYS(pidfd_getfd),
    /* ids, capabilities, namespaces, mounts */
    SCMP_SYS(setuid), SCMP_SYS(setgid), SCMP_SYS(setreuid),
    SCMP_SYS(setregid), SCMP_SYS(setresuid), SCMP_SYS(setresgid),
    SCMP_SYS(setgroups), SCMP_SYS(setfsuid), SCMP_SYS(setfsgid),
    SCMP_SYS(capset), SCMP_SYS(setns), SCMP_SYS(unshare), SCMP_SYS(mount),
    SCMP_SYS(umount2), SCMP_SYS(pivot_root), SCMP_SYS(chroot),
    SCMP_SYS(move_mount), SCMP_SYS(open_tree), SCMP_SYS(fsopen),
    SCMP_SYS(fsmount), SCMP_SYS(fsconfig), SCMP_SYS(fspick),
    /* the kernel itself */
    SCMP_SYS(init_module), SCMP_SYS(finit_module), SCMP_SYS(delete_module),
    SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load), SCMP_SYS(bpf),
    SCMP_SYS(perf_event_open), SCMP_SYS(keyctl), SCMP_SYS(add_key),
    SCMP_SYS(request_key), SCMP_SYS(personality), SCMP_SYS(userfaultfd),
    SCMP_SYS(reboot), SCMP_SYS(swapon), SCMP_SYS(swapoff),
    SCMP_SYS(settimeofday), SCMP_SYS(clock_settime), SCMP_SYS(adjtimex),
    SCMP_SYS(clock_adjtime), SCMP_SYS(iopl), SCMP_SYS(ioperm),
    SCMP_SYS(acct), SCMP_SYS(quotactl), SCMP_SYS(syslog),
    /* files: no change to any (a worker only reads and writes sockets) */
    SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at),
    SCMP_SYS(chmod), SCMP_SYS(fchmod), SCMP_SYS(fchmodat), SCMP_SYS(chown),
    SCMP_SYS(fchown), SCMP_SYS(fchownat), SCMP_SYS(lchown),
    SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename),
    SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(link),
    SCMP_SYS(linkat), SCMP_SYS(symlink), SCMP_SYS(symlinkat),
    SCMP_SYS(mknod), SCMP_SYS(mknodat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat),
    SCMP_SYS(rmdir), SCMP_SYS(truncate), SCMP_SYS(creat),
    SCMP_SYS(setxattr), SCMP_SYS(lsetxattr), SCMP_SYS(fsetxattr),
    SCMP_SYS(utimensat),
};

/* open flags that create, truncate or allow writing a file */
static const int write_flags[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC};

int proxy__sandbox_enter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return ERR_NOMEM;
	const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof(denied) / sizeof(*denied); i++)
		rc = seccomp_rule_add(ctx, deny, denied[i], 0);
	/* a new process, not a thread (a worker starts neither); clone3's
	 * flags are behind a pointer: ENOSYS, so libc falls back to clone */
	if (!rc)
		rc = seccomp_rule_add(
		    ctx, deny, SCMP_SYS(clone), 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				      SCMP_SYS(clone3), 0);
	for (size_t i = 0; !rc && i < sizeof(write_flags) / sizeof(int); i++) {
		scmp_datum_t f = (scmp_datum_t)write_flags[i];
		rc = seccomp_rule_add(ctx, deny, SCMP_SYS(open), 1,
				      SCMP_A1(SCMP_CMP_MASKED_EQ, f, f));
		if (!rc)
			rc = seccomp_rule_add(
			    ctx, deny, SCMP_SYS(openat), 1,
			    SCMP_A2(SCMP_CMP_MASKED_EQ, f, f));
	}
	/* openat2 passes its flags behind a pointer: refused */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				      SCMP_SYS(openat2), 0);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}
