/* The recorder's hot path in C: sys.monitoring callbacks (Python 3.12+) that
 * write fixed-size records into per-thread rings.
 *
 * A code object's mode is decided once, in Python (Recorder.decide), and kept
 * in a dict: not planned (the callback returns DISABLE, the code never calls
 * back again), mode 1 (level minimal: the call, return, yield or resume is a
 * 24-byte record written here), or mode 2 (debug and full: the Python
 * handler is called, as the pure-Python backend would). Rings are read by the
 * flusher through drain_raw(), as bytes the writer process decodes, under the
 * GIL, which both sides hold: no atomics are needed while the rings live in
 * this process.
 *
 * The pure-Python backend (monitoring.py) stays the reference: the tests
 * record the same programs with both and compare the events.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <time.h>

#if PY_VERSION_HEX >= 0x030C0000
#define HAVE_MONITORING 1
#endif

enum { K_CALL = 1, K_RETURN = 2 };
enum { F_RESUMED = 1, F_YIELDED = 2 };
enum { DROP_OLDEST = 0, DROP_NEWEST = 1, BLOCK = 2 };
#define NO_ACTOR UINT32_MAX

/* What the plan made of a code object is also kept on the code object itself
 * (its co_extra slot): hashing a code object for a dict or set lookup costs
 * more than the rest of a record. A Hot or ProfileFilter has its own
 * generation, in the slot's top 16 bits, so that what an earlier recording
 * left there is never taken for its own. */
#if PY_VERSION_HEX >= 0x030C0000
#define CODE_GET_EXTRA PyUnstable_Code_GetExtra
#define CODE_SET_EXTRA PyUnstable_Code_SetExtra
#define REQUEST_EXTRA_INDEX PyUnstable_Eval_RequestCodeExtraIndex
#else
#define CODE_GET_EXTRA _PyCode_GetExtra
#define CODE_SET_EXTRA _PyCode_SetExtra
#define REQUEST_EXTRA_INDEX _PyEval_RequestCodeExtraIndex
#endif
static Py_ssize_t extra_index = -1;
static uint64_t last_generation = 0;
#define MODE_BITS 48

static uint64_t
new_generation(void)
{
    last_generation = last_generation % 0xFFFF + 1;     /* 1 .. 65535: never 0 */
    return last_generation;
}

/* The value this generation left on the code object, or -1. */
static long
cached(PyObject *code, uint64_t generation)
{
    void *extra = NULL;
    if (extra_index < 0 || CODE_GET_EXTRA(code, extra_index, &extra) < 0) {
        PyErr_Clear();
        return -1;
    }
    uint64_t v = (uint64_t)(uintptr_t)extra;
    if (extra == NULL || (v >> MODE_BITS) != generation) {
        return -1;
    }
    return (long)(v & ((1ULL << MODE_BITS) - 1));
}

static void
cache(PyObject *code, uint64_t generation, long value)
{
    if (extra_index < 0 || value < 0 || (uint64_t)value >= (1ULL << MODE_BITS)) {
        return;
    }
    uintptr_t v = (uintptr_t)((generation << MODE_BITS) | (uint64_t)value);
    if (CODE_SET_EXTRA(code, extra_index, (void *)v) < 0) {
        PyErr_Clear();
    }
}
#define NUDGE_NS 100000     /* capture/buffers.py: NUDGE, STARVED */
#define STARVED_NS 1000000
#define NUDGES 50           /* at most 5 ms aside, until the flusher has drained */

typedef struct {
    uint64_t ts;
    uint32_t code;     /* index into the code list */
    uint32_t actor;    /* index into the actor list */
    uint8_t kind;
    uint8_t flags;
} Record;              /* 24 bytes: store/pipe.py reads it as "<QIIBB6x" */

/* A slot header of the arena (capture/arena.py), or a private ring's own. */
typedef struct {
    uint64_t head;       /* records written (the program; release) */
    uint64_t tail;       /* records read (the reader; release) */
    uint64_t dropped;    /* records the program did not write (drop_newest, block) */
    uint64_t pad[5];
} SlotHeader;

typedef struct {
    uint64_t magic, slots, capacity, record_size, in_use, log_offset, log_capacity,
        log_length;
} ArenaHeader;

#define ARENA_MAGIC 0x3130474e49525343ULL     /* "CSRING01" little-endian */

typedef struct Ring {
    Record *records;
    Py_ssize_t capacity;          /* a power of two */
    SlotHeader *slot;             /* in the arena (shared) or &own (private) */
    SlotHeader own;
    int shared;
    uint64_t dropped_reported;
    uint64_t woken_at;            /* when the flusher was woken for this ring */
    uint32_t thread_actor;
    int loop_running;             /* an asyncio loop may run in this thread */
    PyObject *task;               /* the task last seen running here (strong) */
    uint32_t task_actor;
    struct Ring *next;
} Ring;

typedef struct {
    PyObject_HEAD
    PyObject *modes;          /* code -> int: index << 2 | mode */
    PyObject *codes;          /* list: index -> code object */
    PyObject *actors;         /* list: index -> actor key */
    PyObject *decide;         /* decide(code) -> int or None */
    PyObject *on_call, *on_resume, *on_return, *on_yield;   /* mode 2 handlers */
    PyObject *thread_actor;   /* thread_actor() -> actor index of this thread */
    PyObject *task_actor;     /* task_actor(task) -> actor index */
    PyObject *get_running_loop, *current_task;
    PyObject *disable, *wake;
    Py_tss_t tss;
    Ring *rings;
    Py_ssize_t capacity;
    int policy;
    int active;
    uint64_t generation;      /* tells this Hot's modes on code objects from others' */
    Py_buffer arena;          /* capture/arena.py's memory, or .buf NULL */
    int log_full;             /* the arena's log took no more: descriptions go by pipe */
    int flusher_idle;         /* the flusher sleeps until a record wakes it */
    int loops_unseen;         /* loops may start unseen (uvloop): always ask asyncio */
} Hot;

#define LOAD_ACQUIRE(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static ArenaHeader *
arena_header(Hot *self)
{
    return (ArenaHeader *)self->arena.buf;
}

static void
release_arena(Hot *self)
{
    if (self->arena.buf != NULL) {
        PyBuffer_Release(&self->arena);
        self->arena.buf = NULL;
    }
}

static void
free_rings(Hot *self)
{
    Ring *ring = self->rings;
    while (ring != NULL) {
        Ring *next = ring->next;
        Py_CLEAR(ring->task);
        if (!ring->shared) {
            PyMem_RawFree(ring->records);
        }
        PyMem_RawFree(ring);
        ring = next;
    }
    self->rings = NULL;
    if (PyThread_tss_is_created(&self->tss)) {
        PyThread_tss_set(&self->tss, NULL);
    }
}

/* The rings, shared by the sys.monitoring callbacks (3.12+) and the profile
 * hook (ProfileFilter, 3.11). */
static uint64_t
now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);     /* Python's time.monotonic_ns() */
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static Ring *
thread_ring(Hot *self)
{
    Ring *ring = (Ring *)PyThread_tss_get(&self->tss);
    if (ring != NULL) {
        return ring;
    }
    PyObject *index = PyObject_CallNoArgs(self->thread_actor);
    if (index == NULL) {
        return NULL;
    }
    long actor = PyLong_AsLong(index);
    Py_DECREF(index);
    if (actor == -1 && PyErr_Occurred()) {
        return NULL;
    }
    ring = PyMem_RawCalloc(1, sizeof(Ring));
    if (ring == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    ArenaHeader *header = arena_header(self);
    if (header != NULL && header->in_use < header->slots) {
        uint64_t index = header->in_use;
        char *base = (char *)self->arena.buf;
        ring->slot = (SlotHeader *)(base + sizeof(ArenaHeader) + index * sizeof(SlotHeader));
        ring->records = (Record *)(base + sizeof(ArenaHeader) + header->slots * sizeof(SlotHeader)
                                   + index * (uint64_t)self->capacity * sizeof(Record));
        ring->shared = 1;
        STORE_RELEASE(&header->in_use, index + 1);
    } else {
        ring->records = PyMem_RawMalloc(sizeof(Record) * (size_t)self->capacity);
        if (ring->records == NULL) {
            PyMem_RawFree(ring);
            PyErr_NoMemory();
            return NULL;
        }
        ring->slot = &ring->own;
    }
    ring->capacity = self->capacity;
    ring->thread_actor = (uint32_t)actor;
    ring->task_actor = NO_ACTOR;
    ring->loop_running = 1;       /* until asyncio says otherwise (first event) */
    ring->next = self->rings;
    self->rings = ring;
    if (PyThread_tss_set(&self->tss, ring) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot keep a per-thread ring");
        return NULL;
    }
    return ring;
}

/* The actor an event belongs to: the running asyncio task, or the thread. */
static uint32_t
current_actor(Hot *self, Ring *ring)
{
    /* asyncio tells (loop_running) when a loop starts or stops in a thread:
     * no loop, no need to ask it for the running task on every event */
    if (!ring->loop_running && !self->loops_unseen) {
        return ring->thread_actor;
    }
    PyObject *loop = PyObject_CallNoArgs(self->get_running_loop);
    if (loop == NULL) {
        return NO_ACTOR;
    }
    if (loop == Py_None) {
        Py_DECREF(loop);
        ring->loop_running = 0;
        return ring->thread_actor;
    }
    PyObject *task = PyObject_CallOneArg(self->current_task, loop);
    Py_DECREF(loop);
    if (task == NULL) {
        return NO_ACTOR;
    }
    if (task == Py_None) {
        Py_DECREF(task);
        return ring->thread_actor;
    }
    if (task == ring->task) {       /* held by the ring: its address is not reused */
        Py_DECREF(task);
        return ring->task_actor;
    }
    PyObject *index = PyObject_CallOneArg(self->task_actor, task);
    if (index == NULL) {
        Py_DECREF(task);
        return NO_ACTOR;
    }
    long actor = PyLong_AsLong(index);
    Py_DECREF(index);
    if (actor == -1 && PyErr_Occurred()) {
        Py_DECREF(task);
        return NO_ACTOR;
    }
    Py_XSETREF(ring->task, task);
    ring->task_actor = (uint32_t)actor;
    return ring->task_actor;
}

static PyObject *
write_record(Hot *self, int kind, int flags, long code_index)
{
    Ring *ring = thread_ring(self);
    if (ring == NULL) {
        return NULL;
    }
    uint32_t actor = current_actor(self, ring);
    if (actor == NO_ACTOR) {
        return NULL;
    }
    uint64_t ts = now_ns();
    SlotHeader *slot = ring->slot;
    uint64_t head = slot->head;                 /* only this thread writes it */
    uint64_t capacity = (uint64_t)ring->capacity;
    while (head - LOAD_ACQUIRE(&slot->tail) >= capacity) {
        if (self->policy == DROP_NEWEST) {
            __atomic_fetch_add(&slot->dropped, 1, __ATOMIC_RELAXED);
            Py_RETURN_NONE;
        }
        if (self->policy == DROP_OLDEST) {
            if (!ring->shared) {        /* the flusher reads under the GIL: move it */
                slot->tail++;
                slot->dropped++;
            }   /* shared: overwrite; the writer counts what it did not read */
            break;
        }
        /* BLOCK: wake the flusher and let it run until there is room */
        if (!self->active) {
            __atomic_fetch_add(&slot->dropped, 1, __ATOMIC_RELAXED);
            Py_RETURN_NONE;
        }
        PyObject *r = PyObject_CallNoArgs(self->wake);
        if (r == NULL) {
            return NULL;
        }
        Py_DECREF(r);
        Py_BEGIN_ALLOW_THREADS
        struct timespec pause = {0, 500000};
        nanosleep(&pause, NULL);
        Py_END_ALLOW_THREADS
    }
    Record *record = &ring->records[head & (capacity - 1)];
    record->ts = ts;
    record->code = (uint32_t)code_index;
    record->actor = actor;
    record->kind = (uint8_t)kind;
    record->flags = (uint8_t)flags;
    STORE_RELEASE(&slot->head, head + 1);
    if (self->flusher_idle) {
        self->flusher_idle = 0;
        PyObject *r = PyObject_CallNoArgs(self->wake);
        if (r == NULL) {
            return NULL;
        }
        Py_DECREF(r);
    }
    Py_ssize_t used = (Py_ssize_t)(head + 1 - LOAD_ACQUIRE(&slot->tail));
    if (used == ring->capacity / 4 || used == ring->capacity / 2
            || used == ring->capacity / 4 * 3) {
        /* a quarter full: have the flusher come before the ring is full */
        PyObject *r = PyObject_CallNoArgs(self->wake);
        if (r == NULL) {
            return NULL;
        }
        Py_DECREF(r);
        if (used == ring->capacity / 4) {
            ring->woken_at = ts;
        }
        else if (ts - ring->woken_at >= STARVED_NS) {
            /* woken a while ago and still not drained: the flusher is starved
             * of the GIL (a thread that releases it often, as an event loop
             * does, takes it back before a waiting one runs); let it in */
            uint64_t tail = LOAD_ACQUIRE(&slot->tail);
            for (int i = 0; i < NUDGES && LOAD_ACQUIRE(&slot->tail) == tail; i++) {
                Py_BEGIN_ALLOW_THREADS
                struct timespec pause = {0, NUDGE_NS};
                nanosleep(&pause, NULL);
                Py_END_ALLOW_THREADS
            }
        }
    }
    Py_RETURN_NONE;
}

#ifdef HAVE_MONITORING
/* A code object's mode is also kept on the code object itself (co_extra,
 * see the top of this file). The slot holds generation << 48 | (mode + 1). */

static void
remember_mode(Hot *self, PyObject *code, long mode)
{
    cache(code, self->generation, mode + 1);
}

/* The mode of a code object; -1 with an exception set; 0 for DISABLE. */
static long
mode_of(Hot *self, PyObject *code, int may_decide)
{
    long known = cached(code, self->generation);
    if (known > 0) {
        return known - 1;
    }
    PyObject *value = PyDict_GetItemWithError(self->modes, code);
    if (value != NULL) {
        long mode = PyLong_AsLong(value);
        remember_mode(self, code, mode);
        return mode;
    }
    if (PyErr_Occurred() || !may_decide) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *decided = PyObject_CallOneArg(self->decide, code);
    if (decided == NULL) {
        return -1;
    }
    long mode = decided == Py_None ? 0 : PyLong_AsLong(decided);
    Py_DECREF(decided);
    if (mode > 0) {
        remember_mode(self, code, mode);
    }
    return mode;
}

static PyObject *
hot_py_start(Hot *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "py_start(code, offset)");
        return NULL;
    }
    if (!self->active) {
        return Py_NewRef(self->disable);
    }
    long mode = mode_of(self, args[0], 1);
    if (mode == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (mode == 0) {
        return Py_NewRef(self->disable);
    }
    if ((mode & 3) == 2) {
        return PyObject_CallOneArg(self->on_call, args[0]);
    }
    return write_record(self, K_CALL, 0, mode >> 2);
}

static PyObject *
hot_py_resume(Hot *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || !self->active) {
        Py_RETURN_NONE;
    }
    long mode = mode_of(self, args[0], 0);
    if (mode <= 0) {
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    }
    if ((mode & 3) == 2) {
        return PyObject_CallOneArg(self->on_resume, args[0]);
    }
    return write_record(self, K_CALL, F_RESUMED, mode >> 2);
}

static PyObject *
leave(Hot *self, PyObject *const *args, Py_ssize_t nargs, PyObject *handler, int flags)
{
    if (nargs < 3 || !self->active) {
        Py_RETURN_NONE;
    }
    long mode = mode_of(self, args[0], 0);
    if (mode <= 0) {
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    }
    if ((mode & 3) == 2) {
        PyObject *call_args[2] = {args[0], args[2]};
        return PyObject_Vectorcall(handler, call_args, 2, NULL);
    }
    return write_record(self, K_RETURN, flags, mode >> 2);
}

static PyObject *
hot_py_return(Hot *self, PyObject *const *args, Py_ssize_t nargs)
{
    return leave(self, args, nargs, self->on_return, 0);
}

static PyObject *
hot_py_yield(Hot *self, PyObject *const *args, Py_ssize_t nargs)
{
    return leave(self, args, nargs, self->on_yield, F_YIELDED);
}
#endif

/* drain_raw(cutoff_ns) -> bytes: the records written at or before cutoff_ns,
 * oldest first within each thread, as they are in the rings (little-endian:
 * u64 ts, u32 code index, u32 actor index, u8 kind, u8 flags, 6 bytes of
 * padding), for the writer process to decode. */
static PyObject *
hot_drain_raw(Hot *self, PyObject *arg)
{
    unsigned long long cutoff = PyLong_AsUnsignedLongLong(arg);
    if (cutoff == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t total = 0;
    for (Ring *ring = self->rings; ring != NULL; ring = ring->next) {
        if (!ring->shared) {      /* the writer process reads the arena itself */
            total += (Py_ssize_t)(ring->slot->head - ring->slot->tail);
        }
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(Record));
    if (out == NULL) {
        return NULL;
    }
    char *to = PyBytes_AS_STRING(out);
    Py_ssize_t n = 0;
    for (Ring *ring = self->rings; ring != NULL; ring = ring->next) {
        if (ring->shared) {
            continue;
        }
        SlotHeader *slot = ring->slot;
        while (slot->tail < slot->head) {
            Record *r = &ring->records[slot->tail & (ring->capacity - 1)];
            if (r->ts > cutoff) {
                break;
            }
            memcpy(to + n * sizeof(Record), r, sizeof(Record));
            n++;
            slot->tail++;
        }
    }
    if (n < total && _PyBytes_Resize(&out, n * (Py_ssize_t)sizeof(Record)) < 0) {
        return NULL;
    }
    return out;
}

static PyObject *
hot_take_dropped(Hot *self, PyObject *Py_UNUSED(ignored))
{
    unsigned long long total = 0;
    for (Ring *ring = self->rings; ring != NULL; ring = ring->next) {
        if (!ring->shared) {      /* the writer counts the arena's */
            total += ring->slot->dropped - ring->dropped_reported;
            ring->dropped_reported = ring->slot->dropped;
        }
    }
    return PyLong_FromUnsignedLongLong(total);
}

/* record(kind, flags, code_index): write a record from Python (the profile
 * hook's first call of a level-minimal function, which the Python hook
 * decided on). */
static PyObject *
hot_record(Hot *self, PyObject *args)
{
    int kind, flags;
    long index;
    if (!PyArg_ParseTuple(args, "iil", &kind, &flags, &index)) {
        return NULL;
    }
    if (kind != K_CALL && kind != K_RETURN) {
        PyErr_SetString(PyExc_ValueError, "a ring record is a call (1) or a return (2)");
        return NULL;
    }
    return write_record(self, kind, flags, index);
}

/* loop_running(bool): an asyncio loop starts (stops) running in this thread
 * (capture/rings.py hooks asyncio.events._set_running_loop). */
static PyObject *
hot_loop_running(Hot *self, PyObject *arg)
{
    Ring *ring = thread_ring(self);
    if (ring == NULL) {
        return NULL;
    }
    ring->loop_running = PyObject_IsTrue(arg);
    Py_RETURN_NONE;
}

/* loops_unseen(bool): loops may start without telling (always ask asyncio). */
static PyObject *
hot_loops_unseen(Hot *self, PyObject *arg)
{
    self->loops_unseen = PyObject_IsTrue(arg);
    Py_RETURN_NONE;
}

static PyObject *
hot_set_idle(Hot *self, PyObject *arg)
{
    self->flusher_idle = PyObject_IsTrue(arg);
    Py_RETURN_NONE;
}

static PyObject *
hot_set_active(Hot *self, PyObject *arg)
{
    self->active = PyObject_IsTrue(arg);
    Py_RETURN_NONE;
}

/* Take an arena (capture/arena.py's memory) for the rings of threads to come;
 * None: private rings only. */
static int
use_arena(Hot *self, PyObject *arena)
{
    release_arena(self);
    self->log_full = 0;
    if (arena == Py_None) {
        return 0;
    }
    if (PyObject_GetBuffer(arena, &self->arena, PyBUF_WRITABLE) < 0) {
        self->arena.buf = NULL;
        return -1;
    }
    ArenaHeader *h = arena_header(self);
    if (self->arena.len < (Py_ssize_t)sizeof(ArenaHeader) || h->magic != ARENA_MAGIC
            || h->capacity != (uint64_t)self->capacity || h->record_size != sizeof(Record)
            || h->log_offset + h->log_capacity > (uint64_t)self->arena.len
            || sizeof(ArenaHeader) + h->slots * (sizeof(SlotHeader)
                                                 + h->capacity * sizeof(Record))
               > h->log_offset) {
        release_arena(self);
        PyErr_SetString(PyExc_ValueError, "not a ring arena of this capacity");
        return -1;
    }
    return 0;
}

/* reset(arena): forget every ring (in a forked child: the parent's records
 * are the parent's, and so is its arena) and take a new arena or None. */
static PyObject *
hot_reset(Hot *self, PyObject *arena)
{
    free_rings(self);
    self->flusher_idle = 0;
    if (use_arena(self, arena) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* describe(bytes) -> bool: append an entry to the arena's description log
 * (what a code or actor index stands for), for the writer to read even after
 * the program is killed. False: no arena, or its log is full (then never
 * again: the entries stay in index order; the rest goes by pipe). */
static PyObject *
hot_describe(Hot *self, PyObject *arg)
{
    char *bytes;
    Py_ssize_t size;
    if (PyBytes_AsStringAndSize(arg, &bytes, &size) < 0) {
        return NULL;
    }
    ArenaHeader *h = arena_header(self);
    if (h == NULL || self->log_full) {
        Py_RETURN_FALSE;
    }
    uint64_t length = h->log_length;            /* only the program writes it */
    if (size > 0xFFFFFF || length + 4 + (uint64_t)size > h->log_capacity) {
        self->log_full = 1;
        Py_RETURN_FALSE;
    }
    char *at = (char *)self->arena.buf + h->log_offset + length;
    uint32_t n = (uint32_t)size;
    memcpy(at, &n, 4);
    memcpy(at + 4, bytes, (size_t)size);
    STORE_RELEASE(&h->log_length, length + 4 + (uint64_t)size);
    Py_RETURN_TRUE;
}

/* written() -> int: records written into the arena's rings so far (the
 * flusher tells the writer how far it may read when this moved). */
static PyObject *
hot_written(Hot *self, PyObject *Py_UNUSED(ignored))
{
    unsigned long long total = 0;
    for (Ring *ring = self->rings; ring != NULL; ring = ring->next) {
        if (ring->shared) {
            total += ring->slot->head;
        }
    }
    return PyLong_FromUnsignedLongLong(total);
}

static int
hot_init(Hot *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"modes", "codes", "actors", "decide", "on_call", "on_resume",
                            "on_return", "on_yield", "thread_actor", "task_actor",
                            "get_running_loop", "current_task", "disable", "wake",
                            "capacity", "policy", "arena", NULL};
    PyObject *o[14];
    PyObject *arena = Py_None;
    Py_ssize_t capacity;
    int policy;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!OOOOOOOOOOOni|O", names,
                                     &PyDict_Type, &o[0], &PyList_Type, &o[1],
                                     &PyList_Type, &o[2], &o[3], &o[4], &o[5], &o[6], &o[7],
                                     &o[8], &o[9], &o[10], &o[11], &o[12], &o[13],
                                     &capacity, &policy, &arena)) {
        return -1;
    }
    Py_ssize_t size = 16;
    while (size < capacity) {
        size <<= 1;
    }
    PyObject **slots[14] = {&self->modes, &self->codes, &self->actors, &self->decide,
                            &self->on_call, &self->on_resume, &self->on_return,
                            &self->on_yield, &self->thread_actor, &self->task_actor,
                            &self->get_running_loop, &self->current_task, &self->disable,
                            &self->wake};
    for (int i = 0; i < 14; i++) {
        Py_XSETREF(*slots[i], Py_NewRef(o[i]));
    }
    self->capacity = size;
    self->policy = policy;
    self->active = 1;
    if (use_arena(self, arena) < 0) {
        return -1;
    }
    self->generation = new_generation();
    if (!PyThread_tss_is_created(&self->tss) && PyThread_tss_create(&self->tss) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "cannot create the per-thread ring key");
        return -1;
    }
    return 0;
}

static int
hot_traverse(Hot *self, visitproc visit, void *arg)
{
    Py_VISIT(self->modes); Py_VISIT(self->codes); Py_VISIT(self->actors);
    Py_VISIT(self->decide); Py_VISIT(self->on_call); Py_VISIT(self->on_resume);
    Py_VISIT(self->on_return); Py_VISIT(self->on_yield); Py_VISIT(self->thread_actor);
    Py_VISIT(self->task_actor); Py_VISIT(self->get_running_loop);
    Py_VISIT(self->current_task); Py_VISIT(self->disable);
    Py_VISIT(self->wake);
    for (Ring *ring = self->rings; ring != NULL; ring = ring->next) {
        Py_VISIT(ring->task);
    }
    return 0;
}

static int
hot_clear(Hot *self)
{
    Py_CLEAR(self->modes); Py_CLEAR(self->codes); Py_CLEAR(self->actors);
    Py_CLEAR(self->decide); Py_CLEAR(self->on_call); Py_CLEAR(self->on_resume);
    Py_CLEAR(self->on_return); Py_CLEAR(self->on_yield); Py_CLEAR(self->thread_actor);
    Py_CLEAR(self->task_actor); Py_CLEAR(self->get_running_loop);
    Py_CLEAR(self->current_task); Py_CLEAR(self->disable);
    Py_CLEAR(self->wake);
    return 0;
}

static void
hot_dealloc(Hot *self)
{
    PyObject_GC_UnTrack(self);
    free_rings(self);
    release_arena(self);
    if (PyThread_tss_is_created(&self->tss)) {
        PyThread_tss_delete(&self->tss);
    }
    hot_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef hot_methods[] = {
#ifdef HAVE_MONITORING
    {"py_start", (PyCFunction)(void (*)(void))hot_py_start, METH_FASTCALL, "PY_START callback"},
    {"py_resume", (PyCFunction)(void (*)(void))hot_py_resume, METH_FASTCALL, "PY_RESUME"},
    {"py_return", (PyCFunction)(void (*)(void))hot_py_return, METH_FASTCALL, "PY_RETURN"},
    {"py_yield", (PyCFunction)(void (*)(void))hot_py_yield, METH_FASTCALL, "PY_YIELD"},
#endif
    {"drain_raw", (PyCFunction)hot_drain_raw, METH_O, "records written at or before a time"},
    {"take_dropped", (PyCFunction)hot_take_dropped, METH_NOARGS, "records dropped since"},
    {"set_active", (PyCFunction)hot_set_active, METH_O, "start or stop recording"},
    {"set_idle", (PyCFunction)hot_set_idle, METH_O, "the flusher sleeps until a record"},
    {"record", (PyCFunction)hot_record, METH_VARARGS, "record(kind, flags, code_index)"},
    {"loop_running", (PyCFunction)hot_loop_running, METH_O, "a loop starts or stops here"},
    {"loops_unseen", (PyCFunction)hot_loops_unseen, METH_O, "always ask asyncio"},
    {"reset", (PyCFunction)hot_reset, METH_O, "forget every ring, take an arena (fork)"},
    {"describe", (PyCFunction)hot_describe, METH_O, "append to the arena's description log"},
    {"written", (PyCFunction)hot_written, METH_NOARGS, "records written into the arena"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject HotType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cinescope.capture._hot.Hot",
    .tp_basicsize = sizeof(Hot),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Per-thread rings of call and return records, written by C callbacks.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)hot_init,
    .tp_dealloc = (destructor)hot_dealloc,
    .tp_traverse = (traverseproc)hot_traverse,
    .tp_clear = (inquiry)hot_clear,
    .tp_methods = hot_methods,
};

/* ProfileFilter: a C profile hook (PyEval_SetProfile) in front of the Python
 * one (capture/tracing.py, profile mode). Calls into C functions, and calls
 * and returns of code the plan rejected, return at once unless a raise is
 * pending; everything else goes to the Python hook. A C hook that fails is
 * not removed by Python, unlike a Python one. */
typedef struct {
    PyObject_HEAD
    PyObject *python_hook;   /* the Python profile function */
    PyObject *planned;       /* dict: planned code -> CodeInfo */
    PyObject *rejected;      /* set: code the plan rejected */
    PyObject *pending;       /* dict: actor -> pending raises (non-empty: pass all) */
    PyObject *events[8];     /* event names, by PyTrace_* number */
    int active;
    uint64_t generation;     /* its decisions on code objects (below) */
    Hot *hot;                /* the rings for level-minimal functions, or NULL */
} ProfileFilter;

/* What the filter keeps on a code object: REJECTED, PLANNED (the Python hook
 * records it), or RINGED | index << 2 (a level-minimal plain function whose
 * calls and returns the filter writes into the rings itself). */
enum { REJECTED = 1, PLANNED = 2, RINGED = 3 };

/* PLANNED or RINGED for a planned code object. */
static long
planned_as(ProfileFilter *self, PyObject *code)
{
    if (self->hot == NULL) {
        return PLANNED;
    }
    PyObject *mode = PyDict_GetItemWithError(self->hot->modes, code);
    if (mode == NULL) {
        PyErr_Clear();
        return PLANNED;
    }
    long value = PyLong_AsLong(mode);
    if (value == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return PLANNED;
    }
    return (value & 3) == 1 ? (value >> 2) << 2 | RINGED : PLANNED;
}

static int
filter_hook(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    ProfileFilter *self = (ProfileFilter *)obj;
    if (!self->active) {
        return 0;
    }
    int pending = PyDict_GET_SIZE(self->pending) > 0;
    if (!pending) {
        if (what == PyTrace_C_CALL || what == PyTrace_C_RETURN || what == PyTrace_C_EXCEPTION) {
            return 0;
        }
        PyObject *code = (PyObject *)PyFrame_GetCode(frame);
        long known = cached(code, self->generation);
        int skip;
        if (known == REJECTED) {
            skip = 1;
        } else if (known > 0) {
            skip = 0;
        } else if (what == PyTrace_CALL) {       /* not decided, or not yet seen here */
            skip = PySet_Contains(self->rejected, code);
            if (skip == 1) {
                cache(code, self->generation, REJECTED);
            } else if (skip == 0 && PyDict_Contains(self->planned, code) == 1) {
                known = planned_as(self, code);
                cache(code, self->generation, known);
            }
        } else {           /* RETURN: only planned frames matter */
            skip = PyDict_Contains(self->planned, code);
            if (skip == 1) {
                known = planned_as(self, code);
                cache(code, self->generation, known);
            }
            skip = skip < 0 ? -1 : !skip;
        }
        Py_DECREF(code);
#if PY_VERSION_HEX < 0x030C0000
        /* (3.12+ emulate the profile hook and pass None for an unwinding frame) */
        if (skip == 0 && known > 0 && (known & 3) == RINGED
                && (what == PyTrace_CALL || arg != NULL)) {
            /* a call, or a return with its value (NULL: an exception unwinds,
             * which the Python hook records as a raise) */
            PyObject *done = write_record(self->hot, what == PyTrace_CALL ? K_CALL : K_RETURN,
                                          0, known >> 2);
            if (done == NULL) {
                return -1;
            }
            Py_DECREF(done);
            return 0;
        }
#endif
        if (skip < 0) {
            return -1;
        }
        if (skip) {
            return 0;
        }
    }
    if (what < 0 || what > 7 || self->events[what] == NULL) {
        return 0;
    }
    PyObject *args[3] = {(PyObject *)frame, self->events[what], arg ? arg : Py_None};
    PyObject *result = PyObject_Vectorcall(self->python_hook, args, 3, NULL);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

static PyObject *
filter_install(ProfileFilter *self, PyObject *Py_UNUSED(ignored))
{
    PyEval_SetProfile(filter_hook, (PyObject *)self);    /* this thread */
    Py_RETURN_NONE;
}

static PyObject *
filter_set_active(ProfileFilter *self, PyObject *arg)
{
    self->active = PyObject_IsTrue(arg);
    Py_RETURN_NONE;
}

static int
filter_init(ProfileFilter *self, PyObject *args, PyObject *kwds)
{
    static char *names[] = {"python_hook", "planned", "rejected", "pending", "hot", NULL};
    PyObject *hook, *planned, *rejected, *pending, *hot = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!O!O!|O", names, &hook, &PyDict_Type,
                                     &planned, &PySet_Type, &rejected, &PyDict_Type,
                                     &pending, &hot)) {
        return -1;
    }
    if (hot != Py_None && !PyObject_TypeCheck(hot, &HotType)) {
        PyErr_SetString(PyExc_TypeError, "hot must be a Hot or None");
        return -1;
    }
    Py_XSETREF(self->hot, hot == Py_None ? NULL : (Hot *)Py_NewRef(hot));
    Py_XSETREF(self->python_hook, Py_NewRef(hook));
    Py_XSETREF(self->planned, Py_NewRef(planned));
    Py_XSETREF(self->rejected, Py_NewRef(rejected));
    Py_XSETREF(self->pending, Py_NewRef(pending));
    static const char *event_names[8] = {"call", "exception", "line", "return",
                                         "c_call", "c_exception", "c_return", "opcode"};
    for (int i = 0; i < 8; i++) {
        Py_XSETREF(self->events[i], PyUnicode_InternFromString(event_names[i]));
        if (self->events[i] == NULL) {
            return -1;
        }
    }
    self->active = 1;
    self->generation = new_generation();
    return 0;
}

static int
filter_traverse(ProfileFilter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->python_hook); Py_VISIT(self->planned);
    Py_VISIT(self->rejected); Py_VISIT(self->pending);
    Py_VISIT((PyObject *)self->hot);
    return 0;
}

static int
filter_clear(ProfileFilter *self)
{
    Py_CLEAR(self->python_hook); Py_CLEAR(self->planned);
    Py_CLEAR(self->rejected); Py_CLEAR(self->pending);
    Py_CLEAR(self->hot);
    for (int i = 0; i < 8; i++) {
        Py_CLEAR(self->events[i]);
    }
    return 0;
}

static void
filter_dealloc(ProfileFilter *self)
{
    PyObject_GC_UnTrack(self);
    filter_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef filter_methods[] = {
    {"install", (PyCFunction)filter_install, METH_NOARGS, "be this thread's profile hook"},
    {"set_active", (PyCFunction)filter_set_active, METH_O, "pass events on, or not"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FilterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cinescope.capture._hot.ProfileFilter",
    .tp_basicsize = sizeof(ProfileFilter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A C profile hook passing to Python only what the plan may want.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)filter_init,
    .tp_dealloc = (destructor)filter_dealloc,
    .tp_traverse = (traverseproc)filter_traverse,
    .tp_clear = (inquiry)filter_clear,
    .tp_methods = filter_methods,
};

static struct PyModuleDef hot_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_hot",
    .m_doc = "Cinescope's recording hot path in C.",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__hot(void)
{
    if (PyType_Ready(&HotType) < 0 || PyType_Ready(&FilterType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&hot_module);
    if (m == NULL) {
        return NULL;
    }
#if UINTPTR_MAX > 0xFFFFFFFFu
    if (extra_index < 0) {
        extra_index = REQUEST_EXTRA_INDEX(NULL);   /* -1: none left */
        PyErr_Clear();
    }
#endif
    if (PyModule_AddObjectRef(m, "Hot", (PyObject *)&HotType) < 0
            || PyModule_AddObjectRef(m, "ProfileFilter", (PyObject *)&FilterType) < 0
            || PyModule_AddIntConstant(m, "RECORD_SIZE", (long)sizeof(Record)) < 0
#ifdef HAVE_MONITORING
            || PyModule_AddIntConstant(m, "HAS_MONITORING", 1) < 0
#else
            || PyModule_AddIntConstant(m, "HAS_MONITORING", 0) < 0
#endif
            ) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
