#include "golayout.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const golayout_fn_name[GOLAYOUT_FNS] = {
    [GOLAYOUT_WRITELOOP] = "net/http.(*persistConn).writeLoop",
    [GOLAYOUT_ROUNDTRIP] = "net/http.(*persistConn).roundTrip",
    [GOLAYOUT_GRPC_SERVE] = "google.golang.org/grpc.(*Server).serveStreams",
    [GOLAYOUT_GRPC_HANDLE] = "google.golang.org/grpc.(*Server).handleStream",
    [GOLAYOUT_GRPC_READER] = "google.golang.org/grpc/internal/transport.(*http2Client).reader",
    [GOLAYOUT_GRPC_WRITE] = "google.golang.org/grpc/internal/transport.(*http2Client).Write",
    [GOLAYOUT_DIALCONN] = "net/http.(*Transport).dialConn",
};

#define GRPC_TRANSPORT "google.golang.org/grpc/internal/transport"

/* Go 1.17 brought the register ABI the uprobes read (receiver in RAX, g
 * in R14); older programs are not told apart. */
static int regabi(const char *version)
{
	unsigned major = 0, minor = 0;

	return sscanf(version, "go%u.%u", &major, &minor) == 2 &&
	       (major > 1 || (major == 1 && minor >= 17));
}

/* Where g is below the thread pointer. On x86-64 the executable's TLS block
 * ends at the thread pointer, and Go keeps g in runtime.tlsg at the start
 * of its 8-byte block (-8, what Go's own assembly uses when it links
 * itself; an external linker may lay the block out otherwise). */
static int32_t tls_g(Elf *e, int has_tlsg, uint64_t tlsg_value)
{
	size_t nph;

	if (elf_getphdrnum(e, &nph))
		return -8;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_TLS) {
			uint64_t align = ph.p_align ? ph.p_align : 1;
			uint64_t size = (ph.p_memsz + align - 1) / align * align;

			return (int32_t)((has_tlsg ? (int64_t)tlsg_value : 0) - (int64_t)size);
		}
	}
	return -8;
}

/* Where a uprobe on the Go function at vaddr costs least. Go opens a
 * function with its stack check, "cmp rsp,[r14+0x10]" (or "lea r12,[rsp-N];
 * cmp r12,[r14+0x10]") then "jbe": a probe on the cmp is single-stepped
 * out of line (two traps), one on the jbe is emulated (one), and there the
 * receiver (RAX) and g (R14) are what they were at entry. The offset from
 * the function's start; file_off gets the place in the file (0 if the
 * function is in no text section). */
static uint32_t probe_at(Elf *e, int fd, uint64_t vaddr, uint64_t *file_off)
{
	static const unsigned char cmp_rsp[] = {0x49, 0x3b, 0x66, 0x10},
				   cmp_r12[] = {0x4d, 0x3b, 0x66, 0x10};
	static const unsigned lea_len[] = {0, 5, 8}; /* none, disp8, disp32 */
	unsigned char b[16];
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR) || vaddr < sh.sh_addr ||
		    vaddr + sizeof(b) > sh.sh_addr + sh.sh_size)
			continue;
		*file_off = sh.sh_offset + vaddr - sh.sh_addr;
		if (pread(fd, b, sizeof(b), (off_t)*file_off) != (ssize_t)sizeof(b))
			return 0;
		for (size_t i = 0; i < sizeof(lea_len) / sizeof(lea_len[0]); i++) {
			unsigned at = lea_len[i];
			const unsigned char *cmp = at ? cmp_r12 : cmp_rsp;

			if (at && (b[0] != 0x4c || b[1] != 0x8d))
				continue;
			if (!memcmp(b + at, cmp, 4) &&
			    (b[at + 4] == 0x76 || (b[at + 4] == 0x0f && b[at + 5] == 0x86))) {
				*file_off += at + 4;
				return at + 4;
			}
		}
		return 0;
	}
	return 0;
}

/* The symbols: the functions watched, and runtime.tlsg. */
static void symbols(Elf *e, int fd, struct golayout *out, int *has_tlsg, uint64_t *tlsg_value)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)i, &sym) ||
			    !(name = elf_strptr(e, sh.sh_link, sym.st_name)))
				continue;
			for (int f = 0; f < GOLAYOUT_FNS; f++)
				if (!strcmp(name, golayout_fn_name[f])) {
					out->fn[f].at =
					    probe_at(e, fd, sym.st_value, &out->fn[f].file_off);
					out->fn[f].found = out->fn[f].file_off != 0;
				}
			if (!strcmp(name, "runtime.tlsg")) {
				*has_tlsg = 1;
				*tlsg_value = sym.st_value;
			}
		}
	}
}

/* The offset of member in the struct whose DIE is s. */
static int member_offset(Dwarf_Die *s, const char *member, uint32_t *off)
{
	Dwarf_Die m;

	if (dwarf_child(s, &m))
		return -1;
	do {
		const char *name = dwarf_diename(&m);
		Dwarf_Attribute a;
		Dwarf_Word w;

		if (dwarf_tag(&m) == DW_TAG_member && name && !strcmp(name, member) &&
		    dwarf_attr(&m, DW_AT_data_member_location, &a) && !dwarf_formudata(&a, &w) &&
		    w < 4096) {
			*off = (uint32_t)w;
			return 0;
		}
	} while (!dwarf_siblingof(&m, &m));
	return -1;
}

/* The offset of member in struct type. Go's linker writes the types into
 * compile units named "runtime" (more than one); pkg's own are looked in
 * too. */
static int field_offset(Dwarf *dw, const char *pkg, const char *type, const char *member,
			uint32_t *off)
{
	Dwarf_Off cu = 0, next;
	size_t hsize;

	for (; !dwarf_nextcu(dw, cu, &next, &hsize, NULL, NULL, NULL); cu = next) {
		Dwarf_Die cudie, die;
		const char *name;

		if (!dwarf_offdie(dw, cu + hsize, &cudie) || !(name = dwarf_diename(&cudie)) ||
		    (strcmp(name, pkg) && strcmp(name, "runtime")) || dwarf_child(&cudie, &die))
			continue;
		do {
			if (dwarf_tag(&die) == DW_TAG_structure_type &&
			    (name = dwarf_diename(&die)) && !strcmp(name, type))
				return member_offset(&die, member, off);
		} while (!dwarf_siblingof(&die, &die));
	}
	return -1;
}

int golayout_http(const struct golayout *g)
{
	return g->fn[GOLAYOUT_WRITELOOP].found && g->fn[GOLAYOUT_ROUNDTRIP].found;
}

int golayout_inject(const struct golayout *g)
{
	return golayout_http(g) && g->fn[GOLAYOUT_DIALCONN].found;
}

int golayout_grpc(const struct golayout *g)
{
	return g->stream_id_known && g->fn[GOLAYOUT_GRPC_SERVE].found &&
	       g->fn[GOLAYOUT_GRPC_HANDLE].found && g->fn[GOLAYOUT_GRPC_READER].found &&
	       g->fn[GOLAYOUT_GRPC_WRITE].found;
}

int golayout_read(const char *path, const char *version, struct golayout *out, char *why,
		  size_t whylen)
{
	uint64_t tlsg_value = 0;
	int fd = -1, has_tlsg = 0, rc = -1;
	Dwarf *dw = NULL;
	Elf *e = NULL;

	memset(out, 0, sizeof(*out));
	if (!regabi(version)) {
		snprintf(why, whylen, "built by %s, before Go 1.17's register ABI",
			 *version ? version : "an unknown Go version");
		return -1;
	}
	if (elf_version(EV_CURRENT) == EV_NONE || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    !(e = elf_begin(fd, ELF_C_READ, NULL))) {
		snprintf(why, whylen, "cannot read the binary");
		goto out;
	}
	symbols(e, fd, out, &has_tlsg, &tlsg_value);
	out->tls_g = tls_g(e, has_tlsg, tlsg_value);
	if (!(dw = dwarf_begin_elf(e, DWARF_C_READ, NULL))) {
		snprintf(why, whylen, "no DWARF (stripped, or built with -ldflags=-w)");
		goto out;
	}
	if (field_offset(dw, "runtime", "runtime.g", "goid", &out->goid_off) || !out->goid_off) {
		snprintf(why, whylen, "no runtime.g.goid in its DWARF");
		goto out;
	}
	/* grpc-go's stream id: a program without grpc has no such type */
	out->stream_id_known = out->fn[GOLAYOUT_GRPC_HANDLE].found &&
			       !field_offset(dw, GRPC_TRANSPORT, GRPC_TRANSPORT ".Stream", "id",
					     &out->stream_id_off) &&
			       out->stream_id_off < 0xffff;
	rc = 0;
out:
	if (dw)
		dwarf_end(dw);
	if (e)
		elf_end(e);
	if (fd >= 0)
		close(fd);
	return rc;
}
