/*-------------------------------------------------------------------------
 *
 * codec_decode_bench.c
 *	  Decode the seed's SensorEvent (N generated messages) with our plan
 *	  decoder and with avro-c's generic decoder (avro_value_read into a
 *	  reused value), on the same bytes in the same program.
 *
 *	  codec_decode_bench N [ours|avroc|both]
 *
 * Prints ns per message for each and the ratio.  Our values go to the
 * decode state's arena, reused by every message; the state's memory context
 * is reset (and the state initialized again) every 1024 messages, as a
 * batch in the Kafka worker would.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <setjmp.h>
#include <time.h>

#include "utils/memutils.h"

#include "avro_codec.h"

extern sigjmp_buf *PG_exception_stack;

/* codec_decode_avroc.c (apart: avro.h and our schema model share names) */
extern double AvrocDecodeAll(const char *schema_json, const uint8 *buf,
							 const size_t *off, long n, long *checksum);

static const char *SensorSchema =
"{\"type\":\"record\",\"name\":\"SensorEvent\",\"namespace\":\"com.iot.pipeline\",\"fields\":["
"{\"name\":\"device_id\",\"type\":\"string\"},"
"{\"name\":\"device_name\",\"type\":[\"null\",\"string\"],\"default\":null},"
"{\"name\":\"timestamp\",\"type\":\"long\"},"
"{\"name\":\"temperature\",\"type\":\"float\"},"
"{\"name\":\"humidity\",\"type\":\"float\"},"
"{\"name\":\"location\",\"type\":[\"null\",\"string\"],\"default\":null}]}";

/* Append a zigzag varint. */
static size_t
put_long(uint8 *p, int64 v)
{
	uint64		z = ((uint64) v << 1) ^ (uint64) (v >> 63);
	size_t		n = 0;

	while (z & ~0x7fULL)
	{
		p[n++] = (uint8) ((z & 0x7f) | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8) z;
	return n;
}

double		now_ns(void);

/* Monotonic time in ns. */
double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Generate and decode; returns 0. */
int
main(int argc, char **argv)
{
	long		n = argc > 1 ? atol(argv[1]) : 1000000;
	const char *which = argc > 2 ? argv[2] : "both";
	uint8	   *buf = malloc(n * 80);
	size_t	   *off = malloc((n + 1) * sizeof(size_t));
	size_t		pos = 0;
	unsigned	seed = 42;
	double		t_ours = 0,
				t_avroc = 0;
	long		checksum_ours = 0,
				checksum_avroc = 0;
	sigjmp_buf	jb;

	/* ~60-byte messages: ids, optional names and locations, readings */
	for (long i = 0; i < n; i++)
	{
		char		s[64];
		int			len;
		float		f;

		off[i] = pos;
		seed = seed * 1103515245 + 12345;
		len = snprintf(s, sizeof(s), "sensor-%05u", seed % 10000);
		pos += put_long(buf + pos, len);
		memcpy(buf + pos, s, len);
		pos += len;
		if (seed & 0x100)
		{
			len = snprintf(s, sizeof(s), "Device %u", seed % 977);
			pos += put_long(buf + pos, 1);
			pos += put_long(buf + pos, len);
			memcpy(buf + pos, s, len);
			pos += len;
		}
		else
			pos += put_long(buf + pos, 0);
		pos += put_long(buf + pos, 1700000000000LL + i * 1000);
		f = 15.0f + (seed % 2000) / 100.0f;
		memcpy(buf + pos, &f, 4);
		pos += 4;
		f = 30.0f + (seed % 5000) / 100.0f;
		memcpy(buf + pos, &f, 4);
		pos += 4;
		len = snprintf(s, sizeof(s), "building-%u/floor-%u", seed % 12, seed % 7);
		pos += put_long(buf + pos, 1);
		pos += put_long(buf + pos, len);
		memcpy(buf + pos, s, len);
		pos += len;
	}
	off[n] = pos;
	printf("messages: %ld, average body %.1f bytes\n", n, (double) pos / n);

	if (strcmp(which, "avroc") != 0 && strcmp(which, "none") != 0)
	{
		MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "bench", ALLOCSET_DEFAULT_SIZES);
		MemoryContext batch = AllocSetContextCreate(cxt, "batch", ALLOCSET_DEFAULT_SIZES);
		char	   *err = NULL;
		AvroSchemaTree *tree;
		AvroPlan   *plan;
		AvroDecodeState st;
		AvroValue	v;
		double		t0;

		if (sigsetjmp(jb, 0) != 0)
		{
			fprintf(stderr, "error\n");
			return 1;
		}
		PG_exception_stack = &jb;
		tree = AvroParseSchema(SensorSchema, strlen(SensorSchema), cxt, &err);
		plan = AvroPlanCompile(tree->root, NULL, cxt, &err);
		t0 = now_ns();
		for (long i = 0; i < n; i++)
		{
			/* a batch: the state's arena is reused by each message in it */
			if ((i & 1023) == 0)
			{
				MemoryContextReset(batch);
				AvroDecodeStateInit(&st, batch, 64, 64 * 1024 * 1024);
			}
			if (!AvroPlanDecode(plan, &st, buf + off[i], off[i + 1] - off[i], 0, &v))
			{
				fprintf(stderr, "decode failed: %s\n", st.error_msg);
				return 1;
			}
			checksum_ours += v.u.v[2].u.i + v.u.v[0].len;
		}
		t_ours = now_ns() - t0;
		printf("ours (plan decoder):        %8.1f ns/message  (checksum %ld)\n", t_ours / n, checksum_ours);
	}

	if (strcmp(which, "ours") != 0 && strcmp(which, "none") != 0)
	{
		t_avroc = AvrocDecodeAll(SensorSchema, buf, off, n, &checksum_avroc);
		if (t_avroc < 0)
			return 1;
		printf("avro-c (avro_value_read):   %8.1f ns/message  (checksum %ld)\n", t_avroc / n, checksum_avroc);
	}
	if (t_ours > 0 && t_avroc > 0)
		printf("ratio: ours is %.1fx faster than avro-c\n", t_avroc / t_ours);
	return 0;
}
