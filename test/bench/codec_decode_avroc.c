/*-------------------------------------------------------------------------
 *
 * codec_decode_avroc.c
 *	  The avro-c side of codec_decode_bench: avro_value_read of every
 *	  message into one reused generic value.
 *
 *-------------------------------------------------------------------------
 */
#include <avro.h>
#include <stdio.h>
#include <string.h>

extern double now_ns(void);
double		AvrocDecodeAll(const char *schema_json, const unsigned char *buf,
						   const size_t *off, long n, long *checksum);

/* Decode all n messages; returns elapsed ns, or -1 on error. */
double
AvrocDecodeAll(const char *schema_json, const unsigned char *buf,
			   const size_t *off, long n, long *checksum)
{
	avro_schema_t schema;
	avro_value_iface_t *iface;
	avro_value_t value;
	avro_reader_t reader;
	double		t0,
				t;

	if (avro_schema_from_json_length(schema_json, strlen(schema_json), &schema))
	{
		fprintf(stderr, "avro-c: %s\n", avro_strerror());
		return -1;
	}
	iface = avro_generic_class_from_schema(schema);
	avro_generic_value_new(iface, &value);
	reader = avro_reader_memory((const char *) buf, off[n]);
	t0 = now_ns();
	for (long i = 0; i < n; i++)
	{
		avro_value_t field;
		int64_t		ts;
		const char *s;
		size_t		sz;

		avro_reader_memory_set_source(reader, (const char *) buf + off[i], off[i + 1] - off[i]);
		if (avro_value_read(reader, &value))
		{
			fprintf(stderr, "avro-c: %s\n", avro_strerror());
			return -1;
		}
		avro_value_get_by_index(&value, 2, &field, NULL);
		avro_value_get_long(&field, &ts);
		avro_value_get_by_index(&value, 0, &field, NULL);
		avro_value_get_string(&field, &s, &sz);
		*checksum += ts + (long) sz - 1;
	}
	t = now_ns() - t0;
	avro_reader_free(reader);
	avro_value_decref(&value);
	avro_value_iface_decref(iface);
	avro_schema_decref(schema);
	return t;
}
