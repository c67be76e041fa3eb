# datacontract: PostgreSQL extension that is a Schema Registry with Data Contracts.
EXTENSION   = datacontract
EXTVERSION  = 0.2
MODULE_big  = datacontract
OBJS        = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script is generated from the fragments in src/sql/, in name order:
# each fragment holds the SQL surface of one module.
# versions/ keeps the install scripts of released versions, as they were
# released, and the scripts that upgrade each to the next.
SQL_FRAGMENTS = $(sort $(wildcard src/sql/*.sql))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
DATA        = $(wildcard versions/$(EXTENSION)--*.sql)

# pg_regress: every file in sql/ is a test, run on a private temporary instance.
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-instance=regress_instance --temp-config=test/regress.conf \
               --encoding=UTF8 --no-locale

# libmicrohttpd serves the REST API, libcurl imports from other registries,
# librdkafka consumes Kafka topics.
PKG_LIBS    = jansson libmicrohttpd libcurl rdkafka
PG_CPPFLAGS = -Isrc $(shell pkg-config --cflags $(PKG_LIBS) 2>/dev/null)
PG_CFLAGS   = -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
              -Wno-missing-field-initializers -Wno-sign-compare -Wno-clobbered $(EXTRA_CFLAGS)
# -Wno-clobbered: gcc flags the variables inside PostgreSQL's own PG_TRY macro.
# -Wno-unused-parameter, -Wno-sign-compare: PostgreSQL's headers trip them.
SHLIB_LINK  = $(shell pkg-config --libs $(PKG_LIBS) 2>/dev/null || echo -ljansson -lmicrohttpd -lcurl -lrdkafka) -lcrypto

EXTRA_CLEAN = regress_instance results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_FRAGMENTS)
	cat $(SQL_FRAGMENTS) > $@

$(OBJS): $(wildcard src/*.h)
