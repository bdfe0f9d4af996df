/*
 * A stand-in libnvidia-ml.so.1 for tests and benchmarks: the NVML C functions etagram's
 * sampler reaches through pynvml, answering from a text file named by $FAKE_NVML_STATE.
 *
 * The file is read again whenever it changes (inode, size or mtime), so a test can move the
 * values while a sampler runs; write it atomically (write a temp file, rename it over).
 * One "key value" per line:
 *   count N                      number of GPUs (at most MAX_GPUS)
 *   driver 550.54.15             driver version string
 *   init_error CODE              nvmlInit* returns CODE (e.g. 9, DRIVER_NOT_LOADED)
 *   fail.FUNCTION CODE           FUNCTION returns CODE on every GPU (3 = NOT_SUPPORTED)
 *   I.fail.FUNCTION CODE         the same, on GPU I only
 *   I.lost 1                     every query on GPU I returns GPU_IS_LOST
 *   I.name / I.uuid / I.util / I.mem_total / I.mem_used (bytes) / I.temp / I.slowdown /
 *   I.sm / I.sm_max (MHz) / I.power / I.power_limit (mW) / I.reasons (bitmask)
 *   I.procs pid:bytes,pid:bytes
 * Without $FAKE_NVML_STATE or a readable file, nvmlInit returns DRIVER_NOT_LOADED.
 * A function named in -DOMIT_<name> at build time is left out, as in an older driver.
 * fake_nvml_calls() returns how many NVML functions were called, for benchmarks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_GPUS 64
#define MAX_PROCS 16
#define MAX_FAILS 32
#define KEY_LEN 96

enum {
    OK = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3,
    INSUFFICIENT_SIZE = 7, DRIVER_NOT_LOADED = 9, GPU_IS_LOST = 15,
    ARGUMENT_VERSION_MISMATCH = 25,
};

typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int version, sensorType; int temperature; } nvmlTemperature_v1_t;
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_v2_t;

struct fail { int gpu; /* -1: every GPU */ char function[KEY_LEN]; int code; };

struct gpu {
    char name[96], uuid[96];
    unsigned int util, temp, slowdown, sm, sm_max, power, power_limit;
    unsigned long long mem_total, mem_used, reasons;
    int lost, nprocs;
    unsigned int pids[MAX_PROCS];
    unsigned long long proc_bytes[MAX_PROCS];
};

static struct gpu gpus[MAX_GPUS];
static struct fail fails[MAX_FAILS];
static int gpu_count, nfails, init_error, initialized;
static char driver[80];
static struct stat loaded;
static unsigned long long calls;

unsigned long long fake_nvml_calls(void) { return calls; }

static void defaults(void) {
    gpu_count = 1;
    nfails = 0;
    init_error = 0;
    strcpy(driver, "550.54.15");
    for (int i = 0; i < MAX_GPUS; i++) {
        struct gpu *g = &gpus[i];
        memset(g, 0, sizeof *g);
        snprintf(g->name, sizeof g->name, "Fake GPU");
        snprintf(g->uuid, sizeof g->uuid, "GPU-00000000-0000-0000-0000-%012d", i);
        g->util = 100;
        g->mem_total = 12ULL << 30;
        g->mem_used = 6656ULL << 20;
        g->temp = 67;
        g->slowdown = 90;
        g->sm = 2475;
        g->sm_max = 3105;
        g->power = 180000;
        g->power_limit = 200000;
    }
}

static void parse_procs(struct gpu *g, const char *value) {
    g->nprocs = 0;
    while (*value && g->nprocs < MAX_PROCS) {
        unsigned int pid;
        unsigned long long bytes;
        if (sscanf(value, "%u:%llu", &pid, &bytes) != 2) break;
        g->pids[g->nprocs] = pid;
        g->proc_bytes[g->nprocs++] = bytes;
        const char *comma = strchr(value, ',');
        if (!comma) break;
        value = comma + 1;
    }
}

static void add_fail(int gpu, const char *function, const char *value) {
    if (nfails == MAX_FAILS) return;
    fails[nfails].gpu = gpu;
    snprintf(fails[nfails].function, KEY_LEN, "%s", function);
    fails[nfails++].code = atoi(value);
}

static void set_gpu_field(struct gpu *g, int index, const char *field, const char *value) {
    if (!strcmp(field, "name")) snprintf(g->name, sizeof g->name, "%s", value);
    else if (!strcmp(field, "uuid")) snprintf(g->uuid, sizeof g->uuid, "%s", value);
    else if (!strcmp(field, "util")) g->util = strtoul(value, NULL, 10);
    else if (!strcmp(field, "mem_total")) g->mem_total = strtoull(value, NULL, 10);
    else if (!strcmp(field, "mem_used")) g->mem_used = strtoull(value, NULL, 10);
    else if (!strcmp(field, "temp")) g->temp = strtoul(value, NULL, 10);
    else if (!strcmp(field, "slowdown")) g->slowdown = strtoul(value, NULL, 10);
    else if (!strcmp(field, "sm")) g->sm = strtoul(value, NULL, 10);
    else if (!strcmp(field, "sm_max")) g->sm_max = strtoul(value, NULL, 10);
    else if (!strcmp(field, "power")) g->power = strtoul(value, NULL, 10);
    else if (!strcmp(field, "power_limit")) g->power_limit = strtoul(value, NULL, 10);
    else if (!strcmp(field, "reasons")) g->reasons = strtoull(value, NULL, 0);
    else if (!strcmp(field, "lost")) g->lost = atoi(value);
    else if (!strcmp(field, "procs")) parse_procs(g, value);
    else if (!strncmp(field, "fail.", 5)) add_fail(index, field + 5, value);
}

static void parse_line(char *line) {
    line[strcspn(line, "\r\n")] = 0;
    char *value = strchr(line, ' ');
    if (!value) return;
    *value++ = 0;
    if (!strcmp(line, "count")) {
        gpu_count = atoi(value);
        if (gpu_count > MAX_GPUS) gpu_count = MAX_GPUS;
    } else if (!strcmp(line, "driver")) snprintf(driver, sizeof driver, "%s", value);
    else if (!strcmp(line, "init_error")) init_error = atoi(value);
    else if (!strncmp(line, "fail.", 5)) add_fail(-1, line + 5, value);
    else {
        char *dot = strchr(line, '.');
        int index = atoi(line);
        if (dot && index >= 0 && index < MAX_GPUS) set_gpu_field(&gpus[index], index, dot + 1, value);
    }
}

/* Returns 0 when the state file could not be read. Every query starts here. */
static int refresh(void) {
    calls++;
    const char *path = getenv("FAKE_NVML_STATE");
    struct stat now;
    if (!path || stat(path, &now) != 0) return 0;
    if (now.st_ino == loaded.st_ino && now.st_size == loaded.st_size &&
        now.st_mtim.tv_sec == loaded.st_mtim.tv_sec &&
        now.st_mtim.tv_nsec == loaded.st_mtim.tv_nsec)
        return 1;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    defaults();
    char line[512];
    while (fgets(line, sizeof line, f)) parse_line(line);
    fclose(f);
    loaded = now;
    return 1;
}

static int failure(int index, const char *function) {
    for (int i = nfails - 1; i >= 0; i--)
        if ((fails[i].gpu == -1 || fails[i].gpu == index) && !strcmp(fails[i].function, function))
            return fails[i].code;
    return OK;
}

/* Common entry of every per-GPU query: resolves the handle, applies lost and fail.* */
#define DEVICE_QUERY(handle, g)                                          \
    if (!initialized) return UNINITIALIZED;                              \
    refresh();                                                           \
    int index_ = (int)((struct gpu *)(handle) - gpus);                   \
    if (index_ < 0 || index_ >= gpu_count) return INVALID_ARGUMENT;      \
    struct gpu *g = &gpus[index_];                                       \
    if (g->lost) return GPU_IS_LOST;                                     \
    int code_ = failure(index_, __func__);                               \
    if (code_) return code_;

typedef struct gpu *nvmlDevice_t;

static int do_init(void) {
    if (!refresh()) return DRIVER_NOT_LOADED;
    if (init_error) return init_error;
    initialized++;
    return OK;
}

int nvmlInit(void) { return do_init(); }
int nvmlInit_v2(void) { return do_init(); }
int nvmlInitWithFlags(unsigned int flags) { (void)flags; return do_init(); }

int nvmlShutdown(void) {
    if (!initialized) return UNINITIALIZED;
    initialized--;
    return OK;
}

const char *nvmlErrorString(int result) {
    switch (result) {
    case OK: return "Success";
    case UNINITIALIZED: return "Uninitialized";
    case NOT_SUPPORTED: return "Not Supported";
    case DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
    }
}

int nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    if (!initialized) return UNINITIALIZED;
    refresh();
    snprintf(version, length, "%s", driver);
    return OK;
}

int nvmlDeviceGetCount_v2(unsigned int *count) {
    if (!initialized) return UNINITIALIZED;
    refresh();
    *count = (unsigned int)gpu_count;
    return OK;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (!initialized) return UNINITIALIZED;
    refresh();
    if (index >= (unsigned int)gpu_count) return INVALID_ARGUMENT;
    *device = &gpus[index];
    return OK;
}

int nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    DEVICE_QUERY(device, g)
    snprintf(name, length, "%s", g->name);
    return OK;
}

int nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    DEVICE_QUERY(device, g)
    snprintf(uuid, length, "%s", g->uuid);
    return OK;
}

int nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    DEVICE_QUERY(device, g)
    utilization->gpu = g->util;
    utilization->memory = g->util / 2;
    return OK;
}

int nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
    DEVICE_QUERY(device, g)
    *index = (unsigned int)index_;
    return OK;
}

/* What gpustat and nvitop also ask; datacenter GPUs have no fan. */
int nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed) {
    DEVICE_QUERY(device, g)
    (void)speed;
    return NOT_SUPPORTED;
}

int nvmlDeviceGetEncoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                    unsigned int *sampling_period_us) {
    DEVICE_QUERY(device, g)
    *utilization = 0;
    *sampling_period_us = 167000;
    return OK;
}

int nvmlDeviceGetDecoderUtilization(nvmlDevice_t device, unsigned int *utilization,
                                    unsigned int *sampling_period_us) {
    DEVICE_QUERY(device, g)
    *utilization = 0;
    *sampling_period_us = 167000;
    return OK;
}

int nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    DEVICE_QUERY(device, g)
    memory->total = g->mem_total;
    memory->used = g->mem_used;
    memory->free = g->mem_total - g->mem_used;
    return OK;
}

#ifndef OMIT_nvmlDeviceGetTemperatureV
int nvmlDeviceGetTemperatureV(nvmlDevice_t device, nvmlTemperature_v1_t *temperature) {
    DEVICE_QUERY(device, g)
    if (temperature->version != 0x100000C) return ARGUMENT_VERSION_MISMATCH;
    if (temperature->sensorType != 0) return NOT_SUPPORTED;
    temperature->temperature = (int)g->temp;
    return OK;
}
#endif

#ifndef OMIT_nvmlDeviceGetTemperature
int nvmlDeviceGetTemperature(nvmlDevice_t device, unsigned int sensor, unsigned int *temp) {
    DEVICE_QUERY(device, g)
    if (sensor != 0) return NOT_SUPPORTED;
    *temp = g->temp;
    return OK;
}
#endif

int nvmlDeviceGetTemperatureThreshold(nvmlDevice_t device, unsigned int type, unsigned int *temp) {
    DEVICE_QUERY(device, g)
    switch (type) {
    case 0: *temp = g->slowdown + 5; return OK;  /* shutdown */
    case 1: *temp = g->slowdown; return OK;      /* slowdown */
    case 3: *temp = g->slowdown - 3; return OK;  /* GPU max */
    default: return NOT_SUPPORTED;
    }
}

int nvmlDeviceGetClockInfo(nvmlDevice_t device, unsigned int type, unsigned int *clock) {
    DEVICE_QUERY(device, g)
    if (type > 1) return NOT_SUPPORTED; /* graphics (0) and SM (1) run together */
    *clock = g->sm;
    return OK;
}

int nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, unsigned int type, unsigned int *clock) {
    DEVICE_QUERY(device, g)
    if (type > 1) return NOT_SUPPORTED;
    *clock = g->sm_max;
    return OK;
}

int nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
    DEVICE_QUERY(device, g)
    *power = g->power;
    return OK;
}

#ifndef OMIT_nvmlDeviceGetEnforcedPowerLimit
int nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
    DEVICE_QUERY(device, g)
    *limit = g->power_limit;
    return OK;
}
#endif

int nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit) {
    DEVICE_QUERY(device, g)
    *limit = g->power_limit;
    return OK;
}

#ifndef OMIT_nvmlDeviceGetCurrentClocksEventReasons
int nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device, unsigned long long *reasons) {
    DEVICE_QUERY(device, g)
    *reasons = g->reasons;
    return OK;
}
#endif

int nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device, unsigned long long *reasons) {
    DEVICE_QUERY(device, g)
    *reasons = g->reasons;
    return OK;
}

static int running_processes(struct gpu *g, unsigned int *count, nvmlProcessInfo_v2_t *infos) {
    unsigned int n = (unsigned int)g->nprocs;
    if (n == 0) {
        *count = 0;
        return OK;
    }
    if (infos == NULL || *count < n) {
        *count = n;
        return INSUFFICIENT_SIZE;
    }
    for (unsigned int i = 0; i < n; i++) {
        infos[i].pid = g->pids[i];
        infos[i].usedGpuMemory = g->proc_bytes[i];
        infos[i].gpuInstanceId = 0xFFFFFFFFu;
        infos[i].computeInstanceId = 0xFFFFFFFFu;
    }
    *count = n;
    return OK;
}

#ifndef OMIT_nvmlDeviceGetComputeRunningProcesses_v3
int nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
                                            nvmlProcessInfo_v2_t *infos) {
    DEVICE_QUERY(device, g)
    return running_processes(g, count, infos);
}
#endif

int nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *count,
                                            nvmlProcessInfo_v2_t *infos) {
    DEVICE_QUERY(device, g)
    return running_processes(g, count, infos);
}

/* Training runs compute processes only. */
int nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
                                             nvmlProcessInfo_v2_t *infos) {
    DEVICE_QUERY(device, g)
    (void)infos;
    *count = 0;
    return OK;
}
