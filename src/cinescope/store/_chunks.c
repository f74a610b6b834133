/* The chunk assembler in C: store/chunks.py's Assembler, event for event and
 * byte for byte (tests/test_chunks.py holds the two to that). The writer
 * process runs it on every batch; see chunks.py for the layout.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { CALL = 1, RETURN = 2, RAISE = 3, STATE = 4, EXIT = 8, LINE = 9 };
enum { RESUMED = 1, YIELDED = 2 };
enum { T_RETURN = 1, T_FLAG = 4, T_OBJECT = 8, T_DATA = 16 };
#define NONE 0xFFFFFFFFu

typedef struct {            /* chunks.WREC "<QIIBBHI" */
    uint64_t ts;
    uint32_t loc, actor;
    uint8_t kind, flags;
    uint16_t pad;
    uint32_t payload;
} WRec;

typedef struct {            /* chunks.RING "<QIIBB6x", capture/_hot.c's Record */
    uint64_t ts;
    uint32_t code, actor;
    uint8_t kind, flags;
    uint8_t pad[6];
} RingRec;

typedef struct {
    uint64_t ts;
    uint32_t actor, seq, loc, payload;
    uint8_t kind, flags;
} Event;

typedef struct { int64_t call; uint32_t loc; } Frame;
typedef struct { Frame *frames; Py_ssize_t len, cap; } Stack;
typedef struct { unsigned char *p; Py_ssize_t len, cap; } Buf;

typedef struct {
    PyObject_HEAD
    Py_ssize_t max_chunk;
    PyObject *slots;        /* dict: actor id -> index into stacks */
    Stack *stacks;
    Py_ssize_t nstacks, capstacks;
} Assembler;

static int
buf_reserve(Buf *b, Py_ssize_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    unsigned char *p = PyMem_Realloc(b->p, (size_t)cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int
put_varint(Buf *b, uint64_t n)
{
    if (buf_reserve(b, 10) < 0)
        return -1;
    while (n > 0x7F) {
        b->p[b->len++] = (unsigned char)((n & 0x7F) | 0x80);
        n >>= 7;
    }
    b->p[b->len++] = (unsigned char)n;
    return 0;
}

static int
stack_push(Stack *s, int64_t call, uint32_t loc)
{
    if (s->len == s->cap) {
        Py_ssize_t cap = s->cap ? s->cap * 2 : 64;
        Frame *f = PyMem_Realloc(s->frames, sizeof(Frame) * (size_t)cap);
        if (f == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        s->frames = f;
        s->cap = cap;
    }
    s->frames[s->len].call = call;
    s->frames[s->len].loc = loc;
    s->len++;
    return 0;
}

static int64_t
stack_find(Stack *s, uint32_t loc, int pop)
{
    for (Py_ssize_t i = s->len - 1; i >= 0; i--) {
        if (s->frames[i].loc == loc) {
            int64_t call = s->frames[i].call;
            if (pop)
                s->len = i;
            return call;
        }
    }
    return 0;
}

static Stack *
stack_of(Assembler *self, uint32_t actor)
{
    PyObject *key = PyLong_FromUnsignedLong(actor);
    if (key == NULL)
        return NULL;
    PyObject *slot = PyDict_GetItemWithError(self->slots, key);
    if (slot != NULL) {
        Py_DECREF(key);
        return &self->stacks[PyLong_AsSsize_t(slot)];
    }
    if (PyErr_Occurred()) {
        Py_DECREF(key);
        return NULL;
    }
    if (self->nstacks == self->capstacks) {
        Py_ssize_t cap = self->capstacks ? self->capstacks * 2 : 16;
        Stack *s = PyMem_Realloc(self->stacks, sizeof(Stack) * (size_t)cap);
        if (s == NULL) {
            Py_DECREF(key);
            PyErr_NoMemory();
            return NULL;
        }
        self->stacks = s;
        self->capstacks = cap;
    }
    PyObject *index = PyLong_FromSsize_t(self->nstacks);
    if (index == NULL || PyDict_SetItem(self->slots, key, index) < 0) {
        Py_XDECREF(index);
        Py_DECREF(key);
        return NULL;
    }
    Py_DECREF(index);
    Py_DECREF(key);
    Stack *s = &self->stacks[self->nstacks++];
    memset(s, 0, sizeof(Stack));
    return s;
}

static int
event_order(const void *pa, const void *pb)
{
    const Event *a = pa, *b = pb;
    if (a->actor != b->actor)
        return a->actor < b->actor ? -1 : 1;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return a->seq < b->seq ? -1 : (a->seq > b->seq);
}

/* Sort by (actor, ts, seq), stable. The input is a few runs already in
 * order (a thread's ring is one actor in time order), so merge the runs
 * rather than sort from scratch: linear for one run, n log(runs) at worst. */
static int
sort_events(Event *events, Py_ssize_t n)
{
    if (n < 2)
        return 0;
    Py_ssize_t runs = 1;
    for (Py_ssize_t i = 1; i < n; i++)
        if (event_order(&events[i - 1], &events[i]) > 0)
            runs++;
    if (runs == 1)
        return 0;
    if (runs > 64) {        /* many small runs: a plain sort is as good */
        qsort(events, (size_t)n, sizeof(Event), event_order);
        return 0;
    }
    Event *tmp = PyMem_Malloc(sizeof(Event) * (size_t)n);
    Py_ssize_t *starts = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(runs + 1));
    if (tmp == NULL || starts == NULL) {
        PyMem_Free(tmp);
        PyMem_Free(starts);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t k = 0;
    starts[k++] = 0;
    for (Py_ssize_t i = 1; i < n; i++)
        if (event_order(&events[i - 1], &events[i]) > 0)
            starts[k++] = i;
    starts[k] = n;
    Event *from = events, *to = tmp;
    while (runs > 1) {
        Py_ssize_t merged = 0;
        for (Py_ssize_t r = 0; r < runs; r += 2) {
            Py_ssize_t lo = starts[r], mid = starts[r + 1];
            Py_ssize_t hi = r + 2 <= runs ? starts[r + 2] : mid;
            Py_ssize_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)       /* ties: the left run first (stable) */
                to[o++] = event_order(&from[b], &from[a]) < 0 ? from[b++] : from[a++];
            while (a < mid)
                to[o++] = from[a++];
            while (b < hi)
                to[o++] = from[b++];
            starts[merged++] = lo;
        }
        starts[merged] = n;
        runs = merged;
        Event *swap = from;
        from = to;
        to = swap;
    }
    if (from != events)
        memcpy(events, from, sizeof(Event) * (size_t)n);
    PyMem_Free(tmp);
    PyMem_Free(starts);
    return 0;
}

/* The chunk being filled. */
typedef struct {
    int open;
    uint32_t actor;
    int64_t first_id, last_id;
    uint64_t ts0, ts1;
    Py_ssize_t count, calls;
    Buf stack, data;
} Chunk;

static int
chunk_start(Chunk *c, uint32_t actor, int64_t first_id, uint64_t ts, Stack *stack)
{
    c->open = 1;
    c->actor = actor;
    c->first_id = c->last_id = first_id;
    c->ts0 = c->ts1 = ts;
    c->count = c->calls = 0;
    c->stack.len = c->data.len = 0;
    if (put_varint(&c->stack, (uint64_t)stack->len) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < stack->len; i++) {
        if (put_varint(&c->stack, (uint64_t)(first_id - stack->frames[i].call)) < 0
                || put_varint(&c->stack, stack->frames[i].loc) < 0)
            return -1;
    }
    return 0;
}

static int
chunk_finish(Chunk *c, PyObject *chunks)
{
    PyObject *t = Py_BuildValue("(LLIKKnny#y#)", (long long)c->first_id,
                                (long long)c->last_id, (unsigned int)c->actor,
                                (unsigned long long)c->ts0, (unsigned long long)c->ts1,
                                c->count, c->calls, (const char *)c->stack.p, c->stack.len,
                                (const char *)c->data.p, c->data.len);
    c->open = 0;
    if (t == NULL)
        return -1;
    int rc = PyList_Append(chunks, t);
    Py_DECREF(t);
    return rc;
}

static int
chunk_add(Chunk *c, int64_t id, const Event *e, uint64_t link, PyObject *payloads)
{
    PyObject *obj = Py_None, *data = Py_None;
    if (e->payload != NONE) {
        PyObject *p = PyList_GetItem(payloads, (Py_ssize_t)e->payload);
        if (p == NULL)
            return -1;
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 2) {
            PyErr_SetString(PyExc_TypeError, "a call or return payload is (object, data)");
            return -1;
        }
        obj = PyTuple_GET_ITEM(p, 0);
        data = PyTuple_GET_ITEM(p, 1);
    }
    unsigned char tag;
    if (e->kind == CALL) {
        tag = (e->flags & RESUMED) ? T_FLAG : 0;
        c->calls++;
    } else {
        tag = T_RETURN | ((e->flags & YIELDED) ? T_FLAG : 0);
    }
    if (obj != Py_None)
        tag |= T_OBJECT;
    if (data != Py_None)
        tag |= T_DATA;
    if (buf_reserve(&c->data, 1) < 0)
        return -1;
    c->data.p[c->data.len++] = tag;
    if (put_varint(&c->data, (uint64_t)(id - c->last_id)) < 0
            || put_varint(&c->data, e->ts - c->ts1) < 0
            || put_varint(&c->data, e->loc) < 0
            || put_varint(&c->data, link) < 0)
        return -1;
    if (obj != Py_None) {
        unsigned long long o = PyLong_AsUnsignedLongLong(obj);
        if (o == (unsigned long long)-1 && PyErr_Occurred())
            return -1;
        if (put_varint(&c->data, o) < 0)
            return -1;
    }
    if (data != Py_None) {
        char *bytes;
        Py_ssize_t size;
        if (PyBytes_AsStringAndSize(data, &bytes, &size) < 0)
            return -1;
        if (put_varint(&c->data, (uint64_t)size) < 0 || buf_reserve(&c->data, size) < 0)
            return -1;
        memcpy(c->data.p + c->data.len, bytes, (size_t)size);
        c->data.len += size;
    }
    c->last_id = id;
    c->ts1 = e->ts;
    c->count++;
    return 0;
}

static int
read_u32s(PyObject *obj, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len % 4) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "an index map is an array of u32");
        return -1;
    }
    return 0;
}

/* assemble(recs, rings, ring_locs, ring_actors, payloads, next_id)
 *   -> (chunks, rows, next_id); see chunks.Assembler.assemble */
static PyObject *
assembler_assemble(Assembler *self, PyObject *args)
{
    Py_buffer recs = {0}, locs = {0}, actors = {0};
    PyObject *recs_obj, *rings, *locs_obj, *actors_obj, *payloads;
    long long next_id;
    Event *events = NULL;
    PyObject *chunks = NULL, *rows = NULL, *result = NULL, *ring_list = NULL;
    Chunk chunk = {0};

    if (!PyArg_ParseTuple(args, "OOOOO!L", &recs_obj, &rings, &locs_obj, &actors_obj,
                          &PyList_Type, &payloads, &next_id))
        return NULL;
    if (PyObject_GetBuffer(recs_obj, &recs, PyBUF_SIMPLE) < 0)
        return NULL;
    if (read_u32s(locs_obj, &locs) < 0)
        goto done;
    if (read_u32s(actors_obj, &actors) < 0)
        goto done;
    ring_list = PySequence_Fast(rings, "rings is a list of bytes");
    if (ring_list == NULL)
        goto done;
    if (recs.len % (Py_ssize_t)sizeof(WRec)) {
        PyErr_SetString(PyExc_ValueError, "recs is a whole number of WREC records");
        goto done;
    }
    Py_ssize_t nrings = PySequence_Fast_GET_SIZE(ring_list);
    Py_ssize_t total = recs.len / (Py_ssize_t)sizeof(WRec);
    for (Py_ssize_t r = 0; r < nrings; r++) {
        PyObject *blob = PySequence_Fast_GET_ITEM(ring_list, r);
        if (!PyBytes_Check(blob) || PyBytes_GET_SIZE(blob) % (Py_ssize_t)sizeof(RingRec)) {
            PyErr_SetString(PyExc_ValueError, "a ring blob is bytes of whole RING records");
            goto done;
        }
        total += PyBytes_GET_SIZE(blob) / (Py_ssize_t)sizeof(RingRec);
    }
    if (total > 0xFFFFFFFE) {
        PyErr_SetString(PyExc_ValueError, "too many events in one batch");
        goto done;
    }
    events = PyMem_Malloc(sizeof(Event) * (size_t)(total ? total : 1));
    if (events == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t n = 0;
    const WRec *w = recs.buf;
    for (Py_ssize_t i = 0; i < recs.len / (Py_ssize_t)sizeof(WRec); i++, n++) {
        WRec rec;
        memcpy(&rec, &w[i], sizeof rec);
        events[n] = (Event){rec.ts, rec.actor, (uint32_t)n, rec.loc, rec.payload, rec.kind,
                            rec.flags};
    }
    const uint32_t *loc_map = locs.buf, *actor_map = actors.buf;
    Py_ssize_t nlocs = locs.len / 4, nactors = actors.len / 4;
    for (Py_ssize_t r = 0; r < nrings; r++) {
        PyObject *blob = PySequence_Fast_GET_ITEM(ring_list, r);
        const char *p = PyBytes_AS_STRING(blob);
        Py_ssize_t count = PyBytes_GET_SIZE(blob) / (Py_ssize_t)sizeof(RingRec);
        for (Py_ssize_t i = 0; i < count; i++, n++) {
            RingRec rec;
            memcpy(&rec, p + i * (Py_ssize_t)sizeof(RingRec), sizeof rec);
            if (rec.code >= nlocs || rec.actor >= nactors) {
                PyErr_SetString(PyExc_IndexError, "a ring record's code or actor index "
                                "was never described");
                goto done;
            }
            events[n] = (Event){rec.ts, actor_map[rec.actor], (uint32_t)n, loc_map[rec.code],
                                NONE, rec.kind, rec.flags};
        }
    }
    if (sort_events(events, n) < 0)
        goto done;

    chunks = PyList_New(0);
    rows = PyList_New(0);
    if (chunks == NULL || rows == NULL)
        goto done;
    Stack *stack = NULL;
    uint32_t stack_actor = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const Event *e = &events[i];
        int64_t id = next_id++;
        if (stack == NULL || stack_actor != e->actor) {
            stack = stack_of(self, e->actor);
            if (stack == NULL)
                goto done;
            stack_actor = e->actor;
        }
        if (e->kind == CALL || e->kind == RETURN) {
            if (!chunk.open || chunk.actor != e->actor || chunk.count == self->max_chunk) {
                if (chunk.open && chunk_finish(&chunk, chunks) < 0)
                    goto done;
                if (chunk_start(&chunk, e->actor, id, e->ts, stack) < 0)
                    goto done;
            }
            uint64_t link;
            if (e->kind == CALL) {
                link = stack->len ? (uint64_t)(id - stack->frames[stack->len - 1].call) : 0;
                if (stack_push(stack, id, e->loc) < 0)
                    goto done;
            } else {
                int64_t call = stack_find(stack, e->loc, 1);
                link = call ? (uint64_t)(id - call) : 0;
            }
            if (chunk_add(&chunk, id, e, link, payloads) < 0)
                goto done;
            continue;
        }
        int64_t call;
        if (e->kind == RAISE)
            call = stack_find(stack, e->loc, 1);
        else if (e->kind == STATE || e->kind == LINE)
            call = e->loc ? stack_find(stack, e->loc, 0)
                          : (stack->len ? stack->frames[stack->len - 1].call : 0);
        else if (e->kind == EXIT) {
            call = 0;
            stack->len = 0;
        } else
            call = stack->len ? stack->frames[stack->len - 1].call : 0;
        PyObject *row;
        if (call)
            row = Py_BuildValue("(ILL)", (unsigned int)e->payload, (long long)id,
                                (long long)call);
        else
            row = Py_BuildValue("(ILO)", (unsigned int)e->payload, (long long)id, Py_None);
        if (row == NULL || PyList_Append(rows, row) < 0) {
            Py_XDECREF(row);
            goto done;
        }
        Py_DECREF(row);
    }
    if (chunk.open && chunk_finish(&chunk, chunks) < 0)
        goto done;
    result = Py_BuildValue("(OOL)", chunks, rows, next_id);
done:
    PyMem_Free(chunk.stack.p);
    PyMem_Free(chunk.data.p);
    PyMem_Free(events);
    Py_XDECREF(ring_list);
    Py_XDECREF(chunks);
    Py_XDECREF(rows);
    if (recs.obj)
        PyBuffer_Release(&recs);
    if (locs.obj)
        PyBuffer_Release(&locs);
    if (actors.obj)
        PyBuffer_Release(&actors);
    return result;
}

static int
assembler_init(Assembler *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"max_chunk", NULL};
    Py_ssize_t max_chunk = 4096;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|n", kwlist, &max_chunk))
        return -1;
    if (max_chunk < 1) {
        PyErr_SetString(PyExc_ValueError, "max_chunk must be at least 1");
        return -1;
    }
    self->max_chunk = max_chunk;
    Py_XSETREF(self->slots, PyDict_New());
    return self->slots == NULL ? -1 : 0;
}

static void
assembler_dealloc(Assembler *self)
{
    for (Py_ssize_t i = 0; i < self->nstacks; i++)
        PyMem_Free(self->stacks[i].frames);
    PyMem_Free(self->stacks);
    Py_XDECREF(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef assembler_methods[] = {
    {"assemble", (PyCFunction)assembler_assemble, METH_VARARGS,
     "assemble(recs, rings, ring_locs, ring_actors, payloads, next_id) -> "
     "(chunks, rows, next_id)"},
    {NULL}
};

static PyTypeObject AssemblerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cinescope.store._chunks.Assembler",
    .tp_basicsize = sizeof(Assembler),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Orders, numbers, links and packs a batch of events (see store/chunks.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)assembler_init,
    .tp_dealloc = (destructor)assembler_dealloc,
    .tp_methods = assembler_methods,
};

/* ArenaReader(memory): the writer process's side of capture/arena.py. */
typedef struct { uint64_t head, tail, dropped, pad[5]; } SlotHeader;
typedef struct {
    uint64_t magic, slots, capacity, record_size, in_use, log_offset, log_capacity,
        log_length;
} ArenaHeader;
#define ARENA_MAGIC 0x3130474e49525343ULL

typedef struct {
    PyObject_HEAD
    Py_buffer memory;
    uint64_t log_read;          /* bytes of the log read so far */
    uint64_t *dropped_seen;     /* per slot: the program's drop count last seen */
} ArenaReader;

static ArenaHeader *
reader_header(ArenaReader *self)
{
    return (ArenaHeader *)self->memory.buf;
}

static int
reader_init(ArenaReader *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"memory", NULL};
    PyObject *memory;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O", kwlist, &memory))
        return -1;
    if (self->memory.buf != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ArenaReader is initialized once");
        return -1;
    }
    if (PyObject_GetBuffer(memory, &self->memory, PyBUF_WRITABLE) < 0) {
        self->memory.buf = NULL;
        return -1;
    }
    ArenaHeader *h = reader_header(self);
    if (self->memory.len < (Py_ssize_t)sizeof(ArenaHeader) || h->magic != ARENA_MAGIC
            || h->record_size != sizeof(RingRec) || h->capacity == 0
            || (h->capacity & (h->capacity - 1)) != 0
            || h->log_offset + h->log_capacity > (uint64_t)self->memory.len
            || sizeof(ArenaHeader) + h->slots * (sizeof(SlotHeader)
                                                 + h->capacity * sizeof(RingRec))
               > h->log_offset) {
        PyBuffer_Release(&self->memory);
        self->memory.buf = NULL;
        PyErr_SetString(PyExc_ValueError, "not a ring arena (capture/arena.py)");
        return -1;
    }
    self->dropped_seen = PyMem_Calloc((size_t)(h->slots ? h->slots : 1), sizeof(uint64_t));
    if (self->dropped_seen == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* log() -> [bytes]: the description log's entries added since the last call. */
static PyObject *
reader_log(ArenaReader *self, PyObject *Py_UNUSED(ignored))
{
    ArenaHeader *h = reader_header(self);
    if (h == NULL) {
        PyErr_SetString(PyExc_ValueError, "ArenaReader not initialized");
        return NULL;
    }
    uint64_t length = __atomic_load_n(&h->log_length, __ATOMIC_ACQUIRE);
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    const char *log = (const char *)self->memory.buf + h->log_offset;
    while (self->log_read + 4 <= length && length <= h->log_capacity) {
        uint32_t n;
        memcpy(&n, log + self->log_read, 4);
        if (self->log_read + 4 + n > length)
            break;
        PyObject *entry = PyBytes_FromStringAndSize(log + self->log_read + 4, n);
        if (entry == NULL || PyList_Append(out, entry) < 0) {
            Py_XDECREF(entry);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(entry);
        self->log_read += 4 + n;
    }
    return out;
}

/* drain(cutoff) -> (bytes, dropped): every ring's records written at or
 * before cutoff (RING records, oldest first within a ring), and how many
 * records were lost since the last drain: overwritten before they were read
 * (drop_oldest), or never written (drop_newest, block). */
static PyObject *
reader_drain(ArenaReader *self, PyObject *arg)
{
    unsigned long long cutoff = PyLong_AsUnsignedLongLong(arg);
    if (cutoff == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    ArenaHeader *h = reader_header(self);
    if (h == NULL) {
        PyErr_SetString(PyExc_ValueError, "ArenaReader not initialized");
        return NULL;
    }
    uint64_t slots = __atomic_load_n(&h->in_use, __ATOMIC_ACQUIRE);
    if (slots > h->slots)
        slots = h->slots;
    uint64_t cap = h->capacity;
    char *base = (char *)self->memory.buf;
    SlotHeader *headers = (SlotHeader *)(base + sizeof(ArenaHeader));
    const RingRec *records = (const RingRec *)(base + sizeof(ArenaHeader)
                                               + h->slots * sizeof(SlotHeader));
    Buf out = {0};
    unsigned long long dropped = 0;
    for (uint64_t i = 0; i < slots; i++) {
        SlotHeader *slot = &headers[i];
        const RingRec *ring = records + i * cap;
        uint64_t tail = slot->tail;             /* only the reader writes it */
        uint64_t head = __atomic_load_n(&slot->head, __ATOMIC_ACQUIRE);
        uint64_t start = head - tail > cap ? head - cap : tail;
        Py_ssize_t at = out.len;
        uint64_t end = start;
        while (end < head) {
            RingRec rec;
            memcpy(&rec, &ring[end & (cap - 1)], sizeof rec);
            if (rec.ts > cutoff)
                break;
            if (buf_reserve(&out, sizeof rec) < 0) {
                PyMem_Free(out.p);
                return NULL;
            }
            memcpy(out.p + out.len, &rec, sizeof rec);
            out.len += sizeof rec;
            end++;
        }
        /* what the program overwrote while it was being copied is not kept */
        uint64_t head2 = __atomic_load_n(&slot->head, __ATOMIC_ACQUIRE);
        uint64_t valid = head2 > cap ? head2 - cap : 0;
        if (valid > start) {
            uint64_t torn = (valid < end ? valid : end) - start;
            memmove(out.p + at, out.p + at + torn * sizeof(RingRec),
                    (size_t)(out.len - at) - torn * sizeof(RingRec));
            out.len -= (Py_ssize_t)(torn * sizeof(RingRec));
        }
        uint64_t new_tail = end > valid ? end : valid;
        uint64_t kept = (uint64_t)(out.len - at) / sizeof(RingRec);
        dropped += new_tail - tail - kept;
        __atomic_store_n(&slot->tail, new_tail, __ATOMIC_RELEASE);
        uint64_t program_dropped = __atomic_load_n(&slot->dropped, __ATOMIC_RELAXED);
        dropped += program_dropped - self->dropped_seen[i];
        self->dropped_seen[i] = program_dropped;
    }
    PyObject *blob = PyBytes_FromStringAndSize((const char *)out.p, out.len);
    PyMem_Free(out.p);
    if (blob == NULL)
        return NULL;
    PyObject *result = Py_BuildValue("(NK)", blob, dropped);
    return result;
}

static PyObject *
reader_release(ArenaReader *self, PyObject *Py_UNUSED(ignored))
{
    if (self->memory.buf != NULL) {
        PyBuffer_Release(&self->memory);
        self->memory.buf = NULL;
    }
    Py_RETURN_NONE;
}

static void
reader_dealloc(ArenaReader *self)
{
    if (self->memory.buf != NULL)
        PyBuffer_Release(&self->memory);
    PyMem_Free(self->dropped_seen);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef reader_methods[] = {
    {"log", (PyCFunction)reader_log, METH_NOARGS, "new entries of the description log"},
    {"drain", (PyCFunction)reader_drain, METH_O, "(records up to a time, records lost)"},
    {"release", (PyCFunction)(void (*)(void))reader_release, METH_NOARGS,
     "let go of the memory (before closing its mmap)"},
    {NULL}
};

static PyTypeObject ArenaReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cinescope.store._chunks.ArenaReader",
    .tp_basicsize = sizeof(ArenaReader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reads the rings and the description log of a ring arena.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)reader_init,
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_methods = reader_methods,
};

static struct PyModuleDef chunks_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_chunks",
    .m_doc = "The chunk assembler in C (see store/chunks.py).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__chunks(void)
{
    if (PyType_Ready(&AssemblerType) < 0 || PyType_Ready(&ArenaReaderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&chunks_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Assembler", (PyObject *)&AssemblerType) < 0
            || PyModule_AddObjectRef(m, "ArenaReader", (PyObject *)&ArenaReaderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
