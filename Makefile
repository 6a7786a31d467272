# astrotrain - build, test, bench, install.
#   make              libastrotrain.a and the astrotrain binary (build/)
#   make test         deps, build, unit + end-to-end tests ("N passed, N failed, N skipped")
#   make test SANITIZE=1   the same under AddressSanitizer + UndefinedBehaviorSanitizer (build/asan/)
#   make run          deps, build, then the random forest on the shipped SDSS17 catalogue
#   make study        deps, build, then the reference study with its report
#   make bench        astrotrain beside the peer libraries of ../shared/benchmarks
#   make mutate       plants each bug of tests/mutants.ini in a copy of the tree; every one must be caught
#                     (MUTANTS="id id" runs some)
#   make install PREFIX=/usr/local
#   make deps         the Debian packages the build and run need (apt-get, as root or via sudo)
#   make test-deps    those and the tests' peers (python3-sklearn, numpy, h5py, h5dump)

CC       ?= gcc
PREFIX   ?= /usr/local
ARCH     ?= -march=native
SANITIZE ?= 0
PKGS     := hdf5 inih zlib libpng libjpeg openblas lapacke libmicrohttpd jansson cfitsio
PKGS     += ompi-c# Open MPI (issue 15: src/dist/comm_mpi.c); MPI_Init only under mpirun
PKGS     += yajl# issue 12: the fast callback reader of served {"rows": [...]} bodies (src/serve/serve_rows_json.c)

ifeq ($(SANITIZE),1)
BUILD    := build/asan
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
else
BUILD    := build
OPT      := -O3 $(ARCH) -g
endif

# ---- CUDA (issue 17): make CUDA=1 adds the GPU backend of the networks ------------------
# (src/models/nn/backend_cuda.cu through nvcc; cuDNN, cuBLAS, the CUDA runtime from
# CUDA_HOME) and builds into its own directory, build/cuda. Without CUDA=1 nothing changes.
CUDA      ?= 0
ifeq ($(CUDA),1)
CUDA_HOME ?= /usr/local/cuda
CUDA_ARCH ?= 90# the H100/H200; a list such as "80 90" builds for each
NVCC      ?= $(CUDA_HOME)/bin/nvcc
BUILD     := $(BUILD)/cuda
CU_FLAGS  := -DAT_CUDA -I$(CUDA_HOME)/include
CU_LIBS   := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcublas -lcudart -lstdc++
NVCCFLAGS := -std=c++17 -O3 -g -Iinclude -Isrc -DAT_CUDA -Werror all-warnings \
             -Xcompiler -Wall,-Wextra,-Werror,-fno-strict-aliasing \
             $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a),code=[sm_$(a),compute_$(a)])
endif
# ---- end CUDA ---------------------------------------------------------------------------

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
VERSION    := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

CFLAGS  += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -fopenmp -Iinclude -Isrc $(PKG_CFLAGS) $(OPT) \
           -DAT_VERSION='"$(VERSION)"' $(CU_FLAGS)
LDFLAGS += -fopenmp $(OPT)
LDLIBS  += $(PKG_LIBS) -lm $(CU_LIBS)

LIB_SRC  := $(sort $(wildcard src/*/*.c src/*/*/*.c))
LIB_SRC  := $(filter-out src/cli/%,$(LIB_SRC))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
ifeq ($(CUDA),1)
CU_SRC   := $(sort $(wildcard src/*/*/*.cu))
LIB_OBJ  += $(CU_SRC:%.cu=$(BUILD)/%.cu.o)
endif
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libastrotrain.a
BIN      := $(BUILD)/astrotrain
DEPFILES := $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:=.d)

.PHONY: all test unit e2e run study bench install deps test-deps clean docs tests mutate
all: $(BIN) $(if $(filter 1,$(SANITIZE) $(CUDA)),,astrotrain)

# A link at the top so the README's commands read ./astrotrain.
astrotrain: $(BIN)
	@ln -sf $(BIN) astrotrain

# V=1 shows the full commands.
Q := $(if $(filter 1,$(V)),,@)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  NVCC    $<")
	$(Q)$(NVCC) $(NVCCFLAGS) -MMD -MP -MF $(@:.o=.d) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/harness.h $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -Itests/unit -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

tests: $(TEST_BIN) $(BIN)

# issue 17: with CUDA=1 the GPU test program (tests/gpu/) builds too; it runs on a GPU machine
# (scripts/device_check.sh) and prints SKIP lines where there is none.
ifeq ($(CUDA),1)
GPU_TEST_BIN := $(patsubst tests/gpu/%.c,$(BUILD)/tests/gpu/%,$(sort $(wildcard tests/gpu/test_*.c)))
tests: $(GPU_TEST_BIN)
all: $(GPU_TEST_BIN) $(BUILD)/bench/gpu_bench
$(BUILD)/tests/gpu/%: tests/gpu/%.c tests/unit/harness.h $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -Itests/unit -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)
endif
# bench/gpu.sh's throughput tool (any build; --device cpu runs it without a GPU)
$(BUILD)/bench/gpu_bench: bench/gpu_bench.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BENCH   $@")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# Tests need the shipped data, the libraries and the peers they check against (test-deps is
# a no-op when all are there).
test: test-deps
	@$(MAKE) --no-print-directory tests
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) bash tests/run.sh

unit: tests
	@BUILD=$(BUILD) ONLY=unit bash tests/run.sh

e2e: tests
	@BUILD=$(BUILD) ONLY=e2e bash tests/run.sh

run: deps
	@$(MAKE) --no-print-directory all
	./astrotrain --config configs/rf.ini --force

# The reference study end to end, with report.md and report.html (runs/sdss17_study/).
study: deps
	@$(MAKE) --no-print-directory all
	./astrotrain experiment experiments/sdss17/study.ini --force

bench: deps all
	bash bench/run.sh

# Mutation testing: the copy lives in build/mutate/tree, so the working tree is never touched.
mutate: test-deps
	@python3 tests/mutate.py

docs: $(BIN)
	$(BIN) config --doc > docs/config.md

deps:
	@bash scripts/deps.sh

test-deps:
	@bash scripts/deps.sh test

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/astrotrain \
	           $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/astrotrain
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libastrotrain.a
	install -m 644 include/astrotrain/*.h $(DESTDIR)$(PREFIX)/include/astrotrain/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@PKGS@|$(PKGS)|g' \
	    astrotrain.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/astrotrain.pc

clean:
	rm -rf build astrotrain

-include $(DEPFILES)

# ---- fuzzing (libFuzzer; needs clang) -------------------------------------------------------
#   make fuzz [FUZZ_SECONDS=60]   each target of tests/fuzz/ for FUZZ_SECONDS, seeded from
#                                  tests/fuzz/corpus/<target>/; new inputs go to build/fuzz/corpus/,
#                                  crashes to build/fuzz/crashes/ (add them to the corpus once fixed)
#   make fuzz-ci                   4000 inputs per target from seed 1: reproducible (CI)
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_FLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
# -Wno-pass-failed: at -O1 clang cannot honour every "omp simd" and says so as a warning.
FUZZ_CFLAGS  := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -fopenmp -Iinclude -Isrc $(PKG_CFLAGS) \
                $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -Wno-pass-failed -DAT_VERSION='"$(VERSION)"'
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)

.PHONY: fuzz fuzz-ci fuzz-build
$(FUZZ_BUILD)/src/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC(fz)  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libastrotrain.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_BUILD)/libastrotrain.a
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Itests/fuzz -o $@ $< $(FUZZ_BUILD)/libastrotrain.a \
	    -fopenmp $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) bash tests/fuzz/run.sh $(FUZZ_BIN)

# CI replays a fixed, seeded number of inputs per target: reproducible on any machine, so a
# red CI always means a regression; open-ended searching is `make fuzz`'s job.
fuzz-ci: fuzz-build
	@FUZZ_RUNS=4000 FUZZ_SEED=1 FUZZ_BUILD=$(FUZZ_BUILD) bash tests/fuzz/run.sh $(FUZZ_BIN)

-include $(FUZZ_LIB_OBJ:.o=.d)

# ---- valgrind ------------------------------------------------------------------------------
#   make valgrind   the end-to-end tests in VALGRIND_E2E with every astrotrain call under
#                   memcheck (zero errors, zero definite leaks), on a build without -march=native
#                   (valgrind does not know AVX-512) in build/valgrind/
VALGRIND_E2E ?= bad_inputs interrupt
.PHONY: valgrind
valgrind:
	@$(MAKE) --no-print-directory BUILD=build/valgrind ARCH= SANITIZE=0 build/valgrind/astrotrain
	@BUILD=build/valgrind VALGRIND=1 ONLY=e2e E2E_FILTER="$(VALGRIND_E2E)" bash tests/run.sh

# ---- serve (issue 12): the web page and the OpenAPI file are assembled into assets.o --------
$(BUILD)/src/serve/assets.o $(FUZZ_BUILD)/src/serve/assets.o: src/serve/page.html src/serve/openapi.json
