/* elfkind - what kind of program a file is, as far as obs's shim cares:
 * a dynamically linked program the shim enters through LD_PRELOAD, a
 * statically linked one it cannot enter, or a Go program (Go makes its own
 * syscalls: the shim, though loaded, sees none of its network I/O). */
#ifndef OBS_ELFKIND_H
#define OBS_ELFKIND_H
#include <stddef.h>

enum elfkind {
	ELFKIND_DYNAMIC, /* the shim follows it */
	ELFKIND_STATIC,	 /* no dynamic loader: LD_PRELOAD never applies */
	ELFKIND_GO,	 /* a Go program (its version in detail) */
	ELFKIND_UNKNOWN, /* not an ELF file, or unreadable: nothing to say */
};

/* The kind of the program at path; a "#!" script is judged by its
 * interpreter. detail gets the Go version ("go1.19.8") or the interpreter
 * of a script, else "". */
enum elfkind elfkind_of(const char *path, char *detail, size_t len);
/* The executable CMD names, searched in PATH as execvp() would; -1 if none. */
int elfkind_resolve(const char *cmd, char *out, size_t len);

#endif
