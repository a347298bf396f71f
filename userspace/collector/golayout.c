#include "golayout.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The symbols: net/http's two client functions, and runtime.tlsg. */
static void symbols(Elf *e, struct golayout *out, int *has_tlsg, uint64_t *tlsg_value)
{
	Elf_Scn *scn = NULL;
	int found = 0;

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
			if (!strcmp(name, GOLAYOUT_ROUNDTRIP) || !strcmp(name, GOLAYOUT_WRITELOOP))
				found++;
			else if (!strcmp(name, "runtime.tlsg")) {
				*has_tlsg = 1;
				*tlsg_value = sym.st_value;
			}
		}
	}
	out->has_client = found == 2;
}

/* goid's offset in the struct runtime.g whose DIE is s. */
static int goid_member(Dwarf_Die *s, uint32_t *off)
{
	Dwarf_Die m;

	if (dwarf_child(s, &m))
		return -1;
	do {
		const char *name = dwarf_diename(&m);
		Dwarf_Attribute a;
		Dwarf_Word w;

		if (dwarf_tag(&m) == DW_TAG_member && name && !strcmp(name, "goid") &&
		    dwarf_attr(&m, DW_AT_data_member_location, &a) && !dwarf_formudata(&a, &w) &&
		    w && w < 4096) {
			*off = (uint32_t)w;
			return 0;
		}
	} while (!dwarf_siblingof(&m, &m));
	return -1;
}

/* goid's offset in runtime.g, from a compile unit of the runtime (Go's
 * linker writes more than one under that name). */
static int goid_offset(Dwarf *dw, uint32_t *off)
{
	Dwarf_Off cu = 0, next;
	size_t hsize;

	for (; !dwarf_nextcu(dw, cu, &next, &hsize, NULL, NULL, NULL); cu = next) {
		Dwarf_Die cudie, die;
		const char *name;

		if (!dwarf_offdie(dw, cu + hsize, &cudie) || !(name = dwarf_diename(&cudie)) ||
		    strcmp(name, "runtime") || dwarf_child(&cudie, &die))
			continue;
		do {
			if (dwarf_tag(&die) == DW_TAG_structure_type &&
			    (name = dwarf_diename(&die)) && !strcmp(name, "runtime.g"))
				return goid_member(&die, off);
		} while (!dwarf_siblingof(&die, &die));
	}
	return -1;
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
	symbols(e, out, &has_tlsg, &tlsg_value);
	out->tls_g = tls_g(e, has_tlsg, tlsg_value);
	if (!(dw = dwarf_begin_elf(e, DWARF_C_READ, NULL))) {
		snprintf(why, whylen, "no DWARF (stripped, or built with -ldflags=-w)");
		goto out;
	}
	if (goid_offset(dw, &out->goid_off)) {
		snprintf(why, whylen, "no runtime.g.goid in its DWARF");
		goto out;
	}
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
