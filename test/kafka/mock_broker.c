/*
 * mock_broker.c: a Kafka cluster for tests, librdkafka's mock cluster
 * (rdkafka_mock.h) speaking the real protocol on loopback.  Test code only,
 * never linked into the extension.
 *
 *   mock_broker BOOTSTRAP_FILE FIFO [TOPIC PARTITIONS [BROKERS]]
 *
 * Writes the bootstrap list to BOOTSTRAP_FILE once the cluster is up and
 * reads commands, one per line, from FIFO:
 *   down ID | up ID            take a broker down or bring it up
 *   rtt ID MS                  add round-trip time to a broker
 *   errors APIKEY CODE N       fail the next N requests of an API (1 = Fetch)
 *   topic_error CODE           fail the topic (0 clears)
 *   quit
 * Runs until SIGTERM, SIGINT or quit.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop = 0;

static void
on_signal(int sig)
{
	(void) sig;
	stop = 1;
}

static void
command(rd_kafka_mock_cluster_t *mc, const char *topic, char *line)
{
	int			a, b, c;

	if (sscanf(line, "down %d", &a) == 1)
		rd_kafka_mock_broker_set_down(mc, a);
	else if (sscanf(line, "up %d", &a) == 1)
		rd_kafka_mock_broker_set_up(mc, a);
	else if (sscanf(line, "rtt %d %d", &a, &b) == 2)
		rd_kafka_mock_broker_set_rtt(mc, a, b);
	else if (sscanf(line, "errors %d %d %d", &a, &b, &c) == 3)
	{
		rd_kafka_resp_err_t *errs = calloc(c, sizeof(*errs));

		for (int i = 0; i < c; i++)
			errs[i] = (rd_kafka_resp_err_t) b;
		rd_kafka_mock_push_request_errors_array(mc, a, c, errs);
		free(errs);
	}
	else if (sscanf(line, "topic_error %d", &a) == 1)
		rd_kafka_mock_topic_set_error(mc, topic, (rd_kafka_resp_err_t) a);
	else if (strncmp(line, "quit", 4) == 0)
		stop = 1;
	else
	{
		fprintf(stderr, "mock_broker: unknown command: %s\n", line);
		return;
	}
	fprintf(stderr, "mock_broker: %s\n", line);
}

int
main(int argc, char **argv)
{
	char		errstr[512];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	const char *topic = argc > 3 ? argv[3] : "sensor-events";
	int			partitions = argc > 4 ? atoi(argv[4]) : 4;
	int			brokers = argc > 5 ? atoi(argv[5]) : 3;
	char		tmp[4096];
	FILE	   *f;
	int			fd;
	char		buf[4096];
	size_t		used = 0;

	if (argc < 3)
	{
		fprintf(stderr, "usage: %s BOOTSTRAP_FILE FIFO [TOPIC PARTITIONS [BROKERS]]\n", argv[0]);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
	{
		fprintf(stderr, "mock_broker: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (mc == NULL)
	{
		fprintf(stderr, "mock_broker: could not create the mock cluster\n");
		return 1;
	}
	if (rd_kafka_mock_topic_create(mc, topic, partitions, 1) != RD_KAFKA_RESP_ERR_NO_ERROR)
	{
		fprintf(stderr, "mock_broker: could not create topic %s\n", topic);
		return 1;
	}

	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%s\n", rd_kafka_mock_cluster_bootstraps(mc)) < 0 || fclose(f) != 0 ||
		rename(tmp, argv[1]) != 0)
	{
		perror("mock_broker: bootstrap file");
		return 1;
	}

	fd = open(argv[2], O_RDWR | O_NONBLOCK);
	if (fd < 0)
	{
		perror("mock_broker: fifo");
		return 1;
	}
	while (!stop)
	{
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t		n;
		char	   *nl;

		if (poll(&p, 1, 200) <= 0)
			continue;
		n = read(fd, buf + used, sizeof(buf) - used - 1);
		if (n <= 0)
			continue;
		used += n;
		buf[used] = '\0';
		while ((nl = strchr(buf, '\n')) != NULL)
		{
			*nl = '\0';
			command(mc, topic, buf);
			memmove(buf, nl + 1, used - (nl + 1 - buf) + 1);
			used -= nl + 1 - buf;
		}
		if (used >= sizeof(buf) - 1)
			used = 0;
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
