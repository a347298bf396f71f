#include "privs.h"

#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <linux/capability.h>

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

int privs_has_cap(int cap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2] = {0};

	if (syscall(SYS_capget, &hdr, data))
		return 0;
	return !!(data[cap / 32].effective & (1u << (cap % 32)));
}

int privs_check(char *err, size_t errlen)
{
	int bpf = privs_has_cap(CAP_BPF), perfmon = privs_has_cap(CAP_PERFMON);

	if (privs_has_cap(CAP_SYS_ADMIN) || (bpf && perfmon))
		return 0;
	snprintf(err, errlen,
		 "missing capability %s%s%s (or CAP_SYS_ADMIN): obs loads eBPF programs and "
		 "reads kernel tracepoints. Run it as root (sudo), or grant the capabilities "
		 "(setcap cap_bpf,cap_perfmon,cap_dac_read_search,cap_sys_ptrace+ep on the obs "
		 "binary); uid %d has neither",
		 bpf ? "" : "CAP_BPF", !bpf && !perfmon ? " and " : "",
		 perfmon ? "" : "CAP_PERFMON", (int)geteuid());
	return -1;
}

int privs_check_all(char *err, size_t errlen)
{
	if (privs_check(err, errlen))
		return -1;
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, errlen,
			 "kernel BTF is missing (/sys/kernel/btf/vmlinux): obs needs a kernel "
			 "built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, Fedora and RHEL "
			 "kernels have it); run 'obs check' for details");
		return -1;
	}
	return 0;
}
