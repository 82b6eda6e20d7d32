# workloads/cnn/cnn.mk — builds the case-study trainer $(BUILD)/jb-cnn and its
# cmocka tests ($(BUILD)/tests/test_cnn_*). Included by the top Makefile.

CNN_SRC := $(filter-out workloads/cnn/src/main.c,$(wildcard workloads/cnn/src/*.c))
CNN_OBJ := $(CNN_SRC:%.c=$(BUILD)/%.o)
CNN_TEST_SRC := $(wildcard workloads/cnn/tests/test_cnn_*.c)
CNN_TEST_BIN := $(CNN_TEST_SRC:workloads/cnn/tests/%.c=$(BUILD)/tests/%)
CNN_PKGS := openblas libpng libjpeg
CNN_PKG_CFLAGS = $(shell pkg-config --cflags $(CNN_PKGS) 2>/dev/null)
CNN_PKG_LIBS = $(shell pkg-config --libs $(CNN_PKGS) 2>/dev/null || echo -lopenblas -lpng -ljpeg)
# Hot loops want vectorisation; not under the sanitizers (OPT=-O1 there).
CNN_OPT := $(if $(SANFLAGS),,-O3 -march=native)
CNN_CFLAGS = $(CFLAGS) $(CNN_OPT) -fopenmp -Iworkloads/cnn/src $(CNN_PKG_CFLAGS)
CNN_LIBS = $(BUILD)/libjoulebench.a $(BUILD)/src/util.o $(CNN_PKG_LIBS) -fopenmp -lm -pthread

CHECK_EXTRA += $(BUILD)/jb-cnn $(CNN_TEST_BIN)
DEMO_DEPS += $(BUILD)/jb-cnn

all: $(BUILD)/jb-cnn

$(BUILD)/workloads/cnn/%.o: workloads/cnn/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CNN_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/jb-cnn: $(BUILD)/workloads/cnn/src/main.o $(CNN_OBJ) $(BUILD)/libjoulebench.a \
		$(BUILD)/src/util.o
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/workloads/cnn/src/main.o $(CNN_OBJ) $(CNN_LIBS)

$(BUILD)/tests/test_cnn_%: $(BUILD)/workloads/cnn/tests/test_cnn_%.o $(CNN_OBJ) \
		$(BUILD)/libjoulebench.a $(BUILD)/src/util.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(CNN_OBJ) $(CNN_LIBS) -lcmocka
