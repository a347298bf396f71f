/* devname - block device number -> kernel name ("vda", "nvme0n1"). */
#ifndef OBS_DEVNAME_H
#define OBS_DEVNAME_H
#include <stddef.h>
#include <stdint.h>

/* dev is (major << 20 | minor), as the BPF side encodes it. Falls back
 * to "MAJOR:MINOR" when sysfs does not know the device. Cached. */
void devname_lookup(uint32_t dev, char *out, size_t outlen);
/* "read", "write", "flush", "discard", "other" for an obs_disk_op. */
const char *devname_disk_op(unsigned op);

#endif
