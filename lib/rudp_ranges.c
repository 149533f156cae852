/* placeholder: implemented in progress */
#include "rudp_ranges.h"
