# obs - zero-code observability for Linux services.
#
#   make            build obs, obs-run (and the BPF object, skeleton)
#   make test       unit + fuzz smoke + end-to-end tests (scripts/test.sh)
#   make unit       cmocka unit tests only
#   make fuzz       build libFuzzer targets (build/fuzz/)
#   make asan       ASan/UBSan build of everything in build/asan/
#   make lint       clang-format check + cppcheck
#   make install    install to $(PREFIX) (default /usr/local)

BUILD     ?= build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
PREFIX    ?= /usr/local
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
UNISTD_H  ?= $(firstword $(wildcard /usr/include/$(shell uname -m)-linux-gnu/asm/unistd_64.h /usr/include/asm/unistd_64.h))

ifeq ($(SANITIZE),1)
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer
endif

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-missing-field-initializers
CFLAGS    ?= -O2 -g
CFLAGS    += $(WARN) -std=gnu11 -D_GNU_SOURCE -fPIC $(SANFLAGS)
# Layers, lowest first; an include may only name a header of its own layer
# or a lower one (scripts/check-layers.sh, part of `make lint`).
SRC_DIRS  := userspace/base userspace/model userspace/proto \
             $(sort $(patsubst %/,%,$(dir $(wildcard userspace/proto/*/*.h)))) \
             exporters userspace/conf userspace/collector userspace/cmd
CPPFLAGS  += $(addprefix -I,$(SRC_DIRS)) -Ibpf -I$(BUILD) -I$(BUILD)/gen
LDFLAGS   += $(SANFLAGS)
LDLIBS    := -lbpf -ldw -lelf -lisal -lmicrohttpd -lgnutls -lcurl -lprotobuf-c -lyaml -lpthread -lm

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror -I$(BUILD) -Ibpf

# OTLP: the official .proto files from a package registry, pinned by
# version and checksum; C code generated with protoc-c at build time.
OTLP_NPM     := @opentelemetry/otlp-grpc-exporter-base@0.38.0
OTLP_TGZ_SHA := d18571f5b755106c9e681ee45886dd523ac30715a30dca8ff411646b9cc09064
PROTO_DIR    := $(BUILD)/protos
OTLP_PROTOS  := opentelemetry/proto/common/v1/common.proto \
                opentelemetry/proto/resource/v1/resource.proto \
                opentelemetry/proto/trace/v1/trace.proto \
                opentelemetry/proto/collector/trace/v1/trace_service.proto
OTLP_GEN_C   := $(OTLP_PROTOS:%.proto=$(BUILD)/gen/%.pb-c.c) $(BUILD)/gen/otlp_response.pb-c.c
OTLP_GEN_O   := $(OTLP_GEN_C:%.c=%.o)

# The protocol modules (one folder each) and their interface: pure, built
# into both the shim and the collector. A new folder is picked up here.
PROTO_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard userspace/proto/*/*.c))))
PROTO_SRCS := $(wildcard userspace/proto/*.c) $(foreach d,$(PROTO_DIRS),$(wildcard $(d)/*.c))
# Pure modules: no I/O, shared by collector, unit tests and fuzzers.
PURE_SRCS := userspace/base/sbuf.c userspace/base/str.c userspace/base/monotime.c userspace/base/logfmt.c userspace/base/rng.c \
             userspace/model/hist.c userspace/model/metrics.c userspace/model/tp.c \
             userspace/model/route.c userspace/model/spanrec.c userspace/model/spanring.c \
             userspace/model/region.c userspace/model/svcid.c userspace/model/gorel.c userspace/model/capseq.c \
             userspace/model/xspan.c \
             $(PROTO_SRCS) \
             userspace/conf/cli.c userspace/conf/cli_usage.c userspace/conf/config.c userspace/conf/config_layers.c \
             userspace/conf/config_values.c \
             userspace/collector/syscalls.c userspace/collector/procparse.c \
             userspace/collector/redagg.c exporters/auth.c exporters/prom.c
APP_SRCS  := userspace/base/log.c userspace/base/bgthread.c userspace/base/userdb.c \
             userspace/collector/app.c userspace/collector/collector.c userspace/collector/collector_snap.c userspace/collector/mapwalk.c userspace/collector/collector_go.c userspace/collector/collector_inject.c userspace/collector/slots.c userspace/collector/ident.c userspace/collector/kcap.c userspace/collector/kcap_host.c \
             userspace/collector/render.c userspace/collector/devname.c userspace/collector/procinfo.c userspace/collector/elfkind.c userspace/collector/golayout.c userspace/collector/gohelper.c \
             userspace/collector/selfstat.c userspace/collector/report.c userspace/collector/redsum.c userspace/collector/privs.c \
             userspace/collector/spans.c userspace/collector/regions.c userspace/collector/tlsfiles.c \
             userspace/cmd/main.c userspace/cmd/run.c userspace/cmd/agent.c userspace/cmd/agent_svc.c userspace/cmd/triage.c \
             userspace/cmd/check.c userspace/cmd/confcmd.c \
             exporters/prom_http.c exporters/tls_keys.c exporters/otlp.c exporters/curl_nossh.c exporters/otlp_body.c exporters/spanq.c exporters/otlp_cfg.c exporters/otlp_encode.c
PURE_OBJS := $(PURE_SRCS:%.c=$(BUILD)/%.o)
APP_OBJS  := $(APP_SRCS:%.c=$(BUILD)/%.o)

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
FUZZERS    := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

# The shim: its own objects, every symbol hidden but the interposers.
SHIM_SRCS := preload/shim.c preload/plainio.c preload/conntab.c preload/conn.c preload/ctx.c preload/parent.c \
             preload/host.c preload/link.c preload/runtime.c preload/tls.c preload/execenv.c \
             userspace/model/region.c userspace/base/rng.c \
             userspace/base/str.c userspace/model/tp.c userspace/model/route.c \
             userspace/model/spanrec.c userspace/model/spanring.c userspace/model/xspan.c \
             $(PROTO_SRCS)
SHIM_OBJS := $(SHIM_SRCS:%.c=$(BUILD)/shim/%.o)

# a step that fails leaves no target behind (an empty obs.bpf.o from a
# failed link was taken as up to date, and the old binary ran on)
.DELETE_ON_ERROR:

.PHONY: bench-bins all clean e2e-bins test unit unit-bins fuzz asan lint install check-format format
all: $(BUILD)/obs $(BUILD)/obs-run $(BUILD)/libobs_preload.so $(BUILD)/obs-helpers/.stamp

# The runtime helpers the shim loads from beside itself (preload/runtime.c).
HELPERS := $(shell find preload/helpers -type f -name '*.js' -o -type f -name '*.py')
$(BUILD)/obs-helpers/.stamp: $(HELPERS)
	rm -rf $(@D) && mkdir -p $(@D)
	cp -r preload/helpers/. $(@D)/
	touch $@

$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	@test -r /sys/kernel/btf/vmlinux || { echo "error: /sys/kernel/btf/vmlinux missing: kernel built without CONFIG_DEBUG_INFO_BTF" >&2; exit 1; }
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

# One file per area (bpf/*.bpf.c), statically linked into one object: the
# maps they share are declared in obs_maps.bpf.h and joined by the linker.
# obs.bpf.c defines them and goes first (libbpf 1.1's linker cannot place
# an extern map it meets before its definition).
BPF_SRCS := bpf/obs.bpf.c $(filter-out bpf/obs.bpf.c,$(wildcard bpf/*.bpf.c))
BPF_OBJS := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/obs.h bpf/obs_maps.bpf.h bpf/capture.bpf.h bpf/capture_chunks.bpf.h bpf/capture_wide.bpf.h bpf/obs_log2.h bpf/inject.bpf.h bpf/inj_scan.h $(BUILD)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/obs.bpf.o: $(BPF_OBJS)
	$(BPFTOOL) gen object $@ $^

$(BUILD)/obs.skel.h: $(BUILD)/obs.bpf.o
	$(BPFTOOL) gen skeleton $< name obs_bpf > $@.tmp && mv $@.tmp $@

# The syscall name table comes from the kernel's own numbering.
$(BUILD)/syscall_table.h: $(UNISTD_H) scripts/gen-syscalls.sh
	@mkdir -p $(@D)
	scripts/gen-syscalls.sh $< > $@.tmp && mv $@.tmp $@

$(BUILD)/otlp.tgz:
	@mkdir -p $(@D)/npm
	cd $(@D)/npm && npm pack --silent $(OTLP_NPM) > ../otlp.name
	mv $(@D)/npm/$$(cat $(@D)/otlp.name) $@.tmp
	echo "$(OTLP_TGZ_SHA)  $@.tmp" | sha256sum -c --quiet - || \
	  { echo "error: $(OTLP_NPM) checksum mismatch" >&2; rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

$(PROTO_DIR)/.stamp: $(BUILD)/otlp.tgz
	rm -rf $(PROTO_DIR) && mkdir -p $(PROTO_DIR)
	tar -xzf $< -C $(PROTO_DIR) --strip-components=3 package/build/protos
	touch $@

$(BUILD)/gen/.stamp: $(PROTO_DIR)/.stamp exporters/proto/otlp_response.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(BUILD)/gen -I$(PROTO_DIR) $(addprefix $(PROTO_DIR)/,$(OTLP_PROTOS))
	protoc-c --c_out=$(BUILD)/gen -Iexporters/proto exporters/proto/otlp_response.proto
	touch $@

$(OTLP_GEN_C): $(BUILD)/gen/.stamp
$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(CC) -I$(BUILD)/gen -O2 -g -fPIC -c $< -o $@

# Generated headers must exist before anything including them compiles.
$(BUILD)/exporters/otlp.o $(BUILD)/exporters/otlp_encode.o: $(BUILD)/gen/.stamp

$(BUILD)/userspace/collector/syscalls.o: $(BUILD)/syscall_table.h
$(BUILD)/userspace/collector/collector.o $(BUILD)/userspace/collector/collector_snap.o $(BUILD)/userspace/collector/collector_go.o $(BUILD)/userspace/collector/collector_inject.o: $(BUILD)/obs.skel.h

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obs: $(PURE_OBJS) $(APP_OBJS) $(OTLP_GEN_O)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Link-time optimisation: the shim's path through a request crosses a dozen
# small modules (parser, context, record, RED); inlining across them takes
# 7% of the shim's instructions per request (callgrind, nginx). Not under
# the sanitizers, whose build is for finding faults, not for speed.
# Inlined across files, str_copy's strnlen(src, size) draws GCC 12's
# -Wstringop-overread wherever src is a shorter array: strnlen stops at
# the NUL, so a bound past the array is what it is for.
SHIM_LTO  := $(if $(SANITIZE),,-flto=auto -Wno-stringop-overread)

$(BUILD)/shim/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ipreload $(CFLAGS) $(SHIM_LTO) -fvisibility=hidden -ftls-model=initial-exec \
	  -fno-strict-aliasing -MMD -MP -c $< -o $@

$(BUILD)/libobs_preload.so: $(SHIM_OBJS)
	$(CC) -shared $(CFLAGS) $(SHIM_LTO) $(LDFLAGS) -Wl,-z,defs -Wl,-z,now -o $@ $^ -ldl -lpthread

$(BUILD)/obs-run: $(BUILD)/obs
	ln -sf obs $@

# ---- tests ---------------------------------------------------------------
$(BUILD)/tests/%: tests/unit/%.c $(PURE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -MF $(@D)/.$(@F).d -o $@ $(filter-out %.h,$^) $(LDFLAGS) -lcmocka -lyaml -lm -lpthread

# the encoder test decodes with the generated code of the official protos,
# and the exporter's gzip'd body with zlib's gunzip
$(BUILD)/tests/test_otlp_encode: tests/unit/test_otlp_encode.c $(PURE_OBJS) \
		$(BUILD)/exporters/otlp_encode.o $(BUILD)/exporters/otlp_body.o $(OTLP_GEN_O)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcmocka -lisal -lz -lprotobuf-c -lyaml -lm -lpthread

# a protocol written in the tests (tests/unit/ping), end to end to OTLP
$(BUILD)/tests/test_ping: tests/unit/test_ping.c tests/unit/ping/ping_proto.c $(PURE_OBJS) \
		$(BUILD)/exporters/otlp_encode.o $(OTLP_GEN_O)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit/ping $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcmocka -lprotobuf-c -lyaml -lm -lpthread

# the shim's parent rules, with real threads
$(BUILD)/tests/test_parent: tests/unit/test_parent.c preload/parent.c $(PURE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Ipreload $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcmocka -lyaml -lm -lpthread

# background threads and their pace, with real threads
$(BUILD)/tests/test_bgthread: tests/unit/test_bgthread.c $(BUILD)/userspace/base/bgthread.o \
		$(BUILD)/userspace/base/monotime.o
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcmocka -lpthread

# user names asked of getent(1) in a child
$(BUILD)/tests/test_userdb: tests/unit/test_userdb.c $(BUILD)/userspace/base/userdb.o \
		$(BUILD)/userspace/base/monotime.o
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcmocka

# the exporter's queue, with its export thread writing JSON lines
$(BUILD)/tests/test_otlp_queue: tests/unit/test_otlp_queue.c $(PURE_OBJS) $(BUILD)/exporters/otlp.o \
		$(BUILD)/exporters/otlp_body.o $(BUILD)/exporters/spanq.o $(BUILD)/exporters/otlp_cfg.o $(BUILD)/exporters/otlp_encode.o \
		$(BUILD)/userspace/base/log.o $(BUILD)/userspace/base/bgthread.o $(OTLP_GEN_O)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcmocka -lcurl -lisal -lprotobuf-c -lyaml -lm -lpthread

# the exporter's configuration, without the exporter
$(BUILD)/tests/test_otlp_cfg: tests/unit/test_otlp_cfg.c $(PURE_OBJS) $(BUILD)/exporters/otlp_cfg.o \
		$(BUILD)/exporters/otlp_encode.o $(OTLP_GEN_O)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcmocka -lprotobuf-c -lyaml -lm -lpthread

# the collector's map walk, on real BPF maps
$(BUILD)/tests/test_mapwalk: tests/unit/test_mapwalk.c $(BUILD)/userspace/collector/mapwalk.o
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcmocka -lbpf

# TLS key handling links GnuTLS
$(BUILD)/tests/test_tls_keys: tests/unit/test_tls_keys.c $(BUILD)/exporters/tls_keys.o
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcmocka -lgnutls

unit-bins: $(UNIT_TESTS)

# a hostile local process for the agent's end-to-end tests
e2e-bins: $(BUILD)/tests/forge_region $(BUILD)/tests/seccomp_exec
# a pod's Localhost seccomp profile, applied as a container runtime does
$(BUILD)/tests/seccomp_exec: tests/e2e/k8s/seccomp_exec.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) -lseccomp
$(BUILD)/tests/forge_region: tests/e2e/forge/forge_region.c $(PURE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lyaml -lm -lpthread

unit: $(UNIT_TESTS)
	@rc=0; for t in $(UNIT_TESTS); do $$t || rc=1; done; exit $$rc

FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE $(CPPFLAGS) \
               -Itests/unit
$(BUILD)/fuzz/%: tests/fuzz/%.c $(PURE_SRCS) $(BUILD)/syscall_table.h
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(PURE_SRCS) -lyaml -lm

# the encoder's fuzzer decodes what it writes with the official protos' code
$(BUILD)/fuzz/fuzz_otlp_encode: tests/fuzz/fuzz_otlp_encode.c $(PURE_SRCS) exporters/otlp_encode.c \
		$(OTLP_GEN_C) $(BUILD)/syscall_table.h
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(PURE_SRCS) exporters/otlp_encode.c $(OTLP_GEN_C) \
		-lprotobuf-c -lyaml -lm

fuzz: $(FUZZERS)

# Benchmark helpers (bench/*/run.sh build them with `make bench-bins`).
bench-bins: $(BUILD)/bench/shimcost $(BUILD)/bench/encode_bench $(BUILD)/bench/openloop
$(BUILD)/bench/shimcost: bench/http-overhead/shimcost.c
	@mkdir -p $(@D)
	$(CC) -O2 -o $@ $<
$(BUILD)/bench/openloop: bench/http-overhead/openloop.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<
$(BUILD)/bench/encode_bench: bench/http-overhead/encode_bench.c $(BUILD)/exporters/otlp_encode.o \
		$(BUILD)/exporters/otlp_body.o $(PURE_OBJS) $(OTLP_GEN_O)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^ -lprotobuf-c -lisal -lz -lyaml -lm

test: all
	scripts/test.sh

asan:
	$(MAKE) BUILD=build/asan SANITIZE=1 all build/asan/bench/shimcost $(patsubst $(BUILD)/%,build/asan/%,$(UNIT_TESTS))

# cppcheck misreads the shim's GNU statement-expression SYM() macros
# (constStatement) and dlsym() results stored in function pointers.
lint: check-format
	python3 scripts/check-layers.py
	@# bash's errexit ignores "! cmd": in a bats test it can never fail
	@if grep -nE '^[[:space:]]*! ' tests/e2e/*.bats; then \
	  echo 'bats: "! cmd" cannot fail a test; use "run ! cmd" or [ ... ]'; exit 1; fi
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem $(addprefix -I,$(SRC_DIRS)) -Ibpf -I$(BUILD) \
	  --suppress='constStatement:preload/*' --suppress='AssignmentAddressToInteger:preload/*' \
	  -Ipreload -D__x86_64__ userspace exporters preload

check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

install: all
	install -D -m 0755 $(BUILD)/obs $(DESTDIR)$(PREFIX)/bin/obs
	ln -sf obs $(DESTDIR)$(PREFIX)/bin/obs-run
	install -D -m 0644 $(BUILD)/libobs_preload.so $(DESTDIR)$(PREFIX)/lib/obs/libobs_preload.so
	for f in $(patsubst preload/helpers/%,%,$(HELPERS)); do \
		install -D -m 0644 preload/helpers/$$f $(DESTDIR)$(PREFIX)/lib/obs/obs-helpers/$$f; done
	install -D -m 0644 docs/obs.1 $(DESTDIR)$(PREFIX)/share/man/man1/obs.1
	install -D -m 0644 docs/obs-config.5 $(DESTDIR)$(PREFIX)/share/man/man5/obs-config.5

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
