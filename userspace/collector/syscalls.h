/* syscalls - syscall number <-> name, from the kernel's unistd table. */
#ifndef OBS_SYSCALLS_H
#define OBS_SYSCALLS_H

/* Name of syscall nr, or NULL if the number is unknown. */
const char *syscall_name(unsigned nr);
/* Number of a syscall name, or -1. */
int syscall_nr(const char *name);
/* One past the highest known syscall number. */
unsigned syscall_table_size(void);

#endif
