/* version - the obs version string, one definition. */
#ifndef OBS_VERSION_H
#define OBS_VERSION_H

#ifndef OBS_VERSION
#define OBS_VERSION "0.1.0"
#endif

#endif
