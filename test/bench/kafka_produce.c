/*
 * kafka_produce.c: a fast producer of sensor events for the Kafka
 * benchmarks (test code, never linked into the extension).
 *
 *   kafka_produce BOOTSTRAP TOPIC PARTITIONS COUNT V1_ID V2_ID [RATE]
 *
 * Sends COUNT Confluent-framed SensorEvent records, v1 and v2 alternating,
 * round robin over PARTITIONS, lz4-compressed and batched.  Without RATE
 * (or 0) as fast as librdkafka takes them, with event times 100 ms apart;
 * with RATE messages per second, each event's timestamp is its send time
 * (epoch ms), for latency measurements.  Prints "produced N in MS ms".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>

static int	delivery_errors = 0;

static void
on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	if (m->err && delivery_errors++ == 0)
		fprintf(stderr, "kafka_produce: %s\n", rd_kafka_err2str(m->err));
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static char *
put_long(char *p, int64_t v)
{
	uint64_t	n = ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);

	while (n & ~0x7FULL)
	{
		*p++ = (char) ((n & 0x7F) | 0x80);
		n >>= 7;
	}
	*p++ = (char) n;
	return p;
}

static char *
put_string(char *p, const char *s)
{
	size_t		len = strlen(s);

	p = put_long(p, (int64_t) len);
	memcpy(p, s, len);
	return p + len;
}

static char *
put_float(char *p, float f)
{
	memcpy(p, &f, 4);			/* little-endian hosts */
	return p + 4;
}

int
main(int argc, char **argv)
{
	char		errstr[512];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	int			partitions;
	long		count;
	int			ids[2];
	double		rate;
	double		t0;

	if (argc < 7)
	{
		fprintf(stderr, "usage: %s BOOTSTRAP TOPIC PARTITIONS COUNT V1_ID V2_ID [RATE]\n", argv[0]);
		return 2;
	}
	partitions = atoi(argv[3]);
	count = atol(argv[4]);
	ids[0] = atoi(argv[5]);
	ids[1] = atoi(argv[6]);
	rate = argc > 7 ? atof(argv[7]) : 0;

	conf = rd_kafka_conf_new();
#define SET(k, v) \
	if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) \
	{ fprintf(stderr, "kafka_produce: %s\n", errstr); return 1; }
	SET("bootstrap.servers", argv[1]);
	SET("compression.type", "lz4");
	SET("linger.ms", rate > 0 && rate <= 1000 ? "0" : "20");
	SET("batch.num.messages", "10000");
	SET("batch.size", "1000000");
	SET("queue.buffering.max.messages", "2000000");
	SET("queue.buffering.max.kbytes", "1048576");
	SET("acks", "1");
	SET("log_level", "3");
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		fprintf(stderr, "kafka_produce: %s\n", errstr);
		return 1;
	}
	rkt = rd_kafka_topic_new(rk, argv[2], NULL);

	t0 = now_ms();
	for (long i = 0; i < count; i++)
	{
		char		buf[256];
		char		key[32];
		char		name[32];
		char	   *p = buf;
		int			v2 = (int) (i % 2);
		int			dev = (int) (i % 500);
		int64_t		ts;

		if (rate > 0)
		{
			double		target = t0 + i * 1000.0 / rate;

			for (;;)
			{
				double		d = target - now_ms();

				if (d <= 0)
					break;
				rd_kafka_poll(rk, d > 5 ? 5 : (int) d + 1);
			}
			ts = (int64_t) now_ms();
		}
		else
			ts = 1700000000000LL + i * 100;
		snprintf(key, sizeof(key), "sensor-%d", dev);
		snprintf(name, sizeof(name), "Sensor %d", dev);
		*p++ = 0;
		*p++ = (char) (ids[v2] >> 24);
		*p++ = (char) (ids[v2] >> 16);
		*p++ = (char) (ids[v2] >> 8);
		*p++ = (char) ids[v2];
		p = put_string(p, key);
		p = put_long(p, 1);
		p = put_string(p, name);
		p = put_long(p, ts);
		p = put_float(p, (float) ((i % 400) / 10.0));
		p = put_float(p, (float) ((i % 900) / 10.0));
		p = put_long(p, 1);
		p = put_string(p, "Lisbon");
		if (v2)
		{
			p = put_long(p, 1);
			p = put_float(p, (float) (i % 100));
		}
		while (rd_kafka_produce(rkt, (int32_t) (i % partitions), RD_KAFKA_MSG_F_COPY,
								buf, p - buf, key, strlen(key), NULL) != 0)
			rd_kafka_poll(rk, 10);	/* queue full */
		if (i % 10000 == 0)
			rd_kafka_poll(rk, 0);
	}
	rd_kafka_flush(rk, 60000);
	printf("produced %ld in %.0f ms\n", count - delivery_errors, now_ms() - t0);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return delivery_errors ? 1 : 0;
}
