/* placeholder: implemented in progress */
#include "rudp_crc32c.h"
