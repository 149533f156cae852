/*
 * CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), the
 * integrity check of every unprotected packet (docs/PROTOCOL.md,
 * "Integrity").  Uses the CPU's CRC32C instruction where it has one
 * (x86-64 SSE4.2, AArch64 CRC extension), detected once at run time, and a
 * slicing-by-8 table otherwise.  Both paths give identical results.
 *
 * The check value of the nine bytes "123456789" is 0xE3069283.
 */
#ifndef RUDP_CRC32C_H
#define RUDP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * rudp_crc32c returns the CRC32C of |len| bytes at |data|, continuing from
 * |crc|, the value returned for the preceding bytes (0 to start).  So
 * rudp_crc32c(rudp_crc32c(0, a, n), b, m) equals the CRC of a followed by b.
 * |data| may be NULL when |len| is 0.
 */
uint32_t rudp_crc32c(uint32_t crc, const void *data, size_t len);

/* rudp_crc32c_sw is the table implementation; same contract. */
uint32_t rudp_crc32c_sw(uint32_t crc, const void *data, size_t len);

/*
 * rudp_crc32c_hw is the hardware implementation; same contract.  Call it
 * only when rudp_crc32c_hw_available() returns nonzero.
 */
uint32_t rudp_crc32c_hw(uint32_t crc, const void *data, size_t len);

/*
 * rudp_crc32c_hw_available returns nonzero if this CPU has the CRC32C
 * instruction and rudp_crc32c uses it.
 */
int rudp_crc32c_hw_available(void);

#endif /* RUDP_CRC32C_H */
