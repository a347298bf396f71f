#include "syscalls.h"

#include <stddef.h>
#include <string.h>

static const char *const table[] = {
#include "syscall_table.h"
};

const char *syscall_name(unsigned nr)
{
	return nr < sizeof(table) / sizeof(table[0]) ? table[nr] : NULL;
}

int syscall_nr(const char *name)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i] && !strcmp(table[i], name))
			return (int)i;
	return -1;
}

unsigned syscall_table_size(void)
{
	return sizeof(table) / sizeof(table[0]);
}
