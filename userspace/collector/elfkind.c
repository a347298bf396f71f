#include "elfkind.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Go 1.18+ writes its version inline in .go.buildinfo: a 16-byte magic
 * and flags, then at offset 32 a varint length and the string. */
static void go_version(Elf_Scn *scn, char *out, size_t len)
{
	static const char magic[] = "\xff Go buildinf:";
	Elf_Data *d = elf_getdata(scn, NULL);
	const unsigned char *b;
	size_t n, pos = 32, vlen = 0;
	int shift = 0;

	if (!d || !d->d_buf || d->d_size < 33)
		return;
	b = d->d_buf;
	n = d->d_size;
	if (memcmp(b, magic, sizeof(magic) - 1) || !(b[15] & 2))
		return; /* older Go: the version sits behind pointers; say nothing */
	while (pos < n && shift < 28) {
		vlen |= (size_t)(b[pos] & 0x7f) << shift;
		shift += 7;
		if (!(b[pos++] & 0x80))
			break;
	}
	if (vlen && vlen < 64 && pos + vlen <= n)
		snprintf(out, len, "%.*s", (int)vlen, (const char *)b + pos);
}

static enum elfkind kind_of_elf(int fd, char *detail, size_t len)
{
	enum elfkind k = ELFKIND_UNKNOWN;
	Elf *e = elf_begin(fd, ELF_C_READ, NULL);
	size_t shstrndx, nph;
	Elf_Scn *scn = NULL;
	int interp = 0;

	if (!e || elf_kind(e) != ELF_K_ELF || elf_getshdrstrndx(e, &shstrndx) ||
	    elf_getphdrnum(e, &nph))
		goto out;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(e, shstrndx, sh.sh_name)))
			continue;
		if (!strcmp(name, ".go.buildinfo")) {
			go_version(scn, detail, len);
			k = ELFKIND_GO;
			goto out;
		}
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_INTERP)
			interp = 1;
	}
	k = interp ? ELFKIND_DYNAMIC : ELFKIND_STATIC;
out:
	if (e)
		elf_end(e);
	return k;
}

enum elfkind elfkind_of(const char *path, char *detail, size_t len)
{
	char head[256];
	enum elfkind k = ELFKIND_UNKNOWN;
	ssize_t n;
	int fd;

	detail[0] = 0;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return ELFKIND_UNKNOWN;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ELFKIND_UNKNOWN;
	n = pread(fd, head, sizeof(head) - 1, 0);
	if (n > 2 && head[0] == '#' && head[1] == '!') {
		/* a script: its interpreter is what runs */
		char *p = head + 2, interp[256];

		head[n] = 0;
		p += strspn(p, " \t");
		snprintf(interp, sizeof(interp), "%.*s", (int)strcspn(p, " \t\r\n"), p);
		close(fd);
		if (!interp[0] || !strcmp(interp, path))
			return ELFKIND_UNKNOWN;
		k = elfkind_of(interp, detail, len);
		if (k != ELFKIND_GO)
			snprintf(detail, len, "%s", interp);
		return k;
	}
	k = kind_of_elf(fd, detail, len);
	close(fd);
	return k;
}

int elfkind_resolve(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK);
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", cmd);
		if (!access(out, X_OK))
			return 0;
		path += n + (path[n] == ':');
	}
	return -1;
}
