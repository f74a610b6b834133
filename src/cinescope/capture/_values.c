/* Values encoded in C: a Snapshotter's capture, packed with msgpack, in one
 * pass and without building the plain data in between.
 *
 * Encoder(snapshotter).encode(value) returns the bytes
 * msgpack.packb(snapshotter.capture(value), use_bin_type=True) returns;
 * tests/test_encoder.py holds the two to that, byte for byte. The common
 * types are encoded here; everything else goes through the snapshotter's
 * capture_node (its _capture for that one node) and the plain data it
 * returns is packed here. See the module docstring below for the details
 * and the few places where the encoder differs from the reference.
 *
 * Everything runs on the recorded program's thread with the GIL held. The
 * output goes into one buffer (on the C stack first, then one heap block
 * that grows); the only other allocation is the bytes object returned. No
 * Python code runs for the common types, except the snapshotter's is_secret
 * the first time a dict key is seen (its verdict is cached per str).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define INLINE_BYTES 1024       /* the output buffer's first part, on the C stack */
#define INLINE_ACTIVE 16        /* containers being encoded, before the heap */
#define CACHE_ENTRIES 4096      /* is_secret verdicts kept, then it is just called */
#define CACHE_LENGTH 256        /* longer str keys are not kept in the cache */
#define GUARD_LEVEL 24          /* nesting beyond which Py_EnterRecursiveCall guards */
#define PLAIN_LEVELS 1000       /* the fallback's plain data: deeper is an error */
#define FAST_PAIRS 32           /* encode_map: names checked for repeats on the stack */
#define BOUND_LIMIT (PY_SSIZE_T_MAX / 4)

/* msgpack of the shapes' constant parts ("\xa4" "dict": \x escapes would
 * swallow a following hex digit) */
#define K_TYPE "\xa4" "type"
#define K_ITEMS "\xa5" "items"
#define K_LEN "\xa3" "len"
#define K_CYCLE "\xa5" "cycle"
#define K_VALUE "\xa5" "value"
#define N_LIST "\xa4" "list"
#define N_TUPLE "\xa5" "tuple"
#define N_DICT "\xa4" "dict"
#define N_STR "\xa3" "str"
#define N_BYTES "\xa5" "bytes"
#define REDACTED "\x81" "\xa8" "redacted" "\xc3"          /* {"redacted": True} */
#define FAILED "\x82" K_TYPE "\xa1" "?" "\xa5" "error" "\xae" "cannot capture"

typedef struct {
    PyObject_HEAD
    PyObject *snapshotter;
    PyObject *is_secret;        /* snapshotter.is_secret */
    PyObject *capture_node;     /* snapshotter.capture_node(value, depth, budget, active) */
    PyObject *capture_failed;   /* snapshotter.capture_failed(value, exc) */
    PyObject *cache;            /* {str: True | False}: is_secret's verdicts */
    Py_ssize_t max_depth, max_items, max_string, max_bytes, max_nodes;
    int object_refs;
} Encoder;

typedef struct {
    char *p;
    Py_ssize_t len, cap;
    Py_ssize_t budget;          /* nodes left (the reference's budget[0]) */
    PyObject **active;          /* containers being encoded: cycles */
    Py_ssize_t nactive, capactive;
    int level;
    PyObject *inline_active[INLINE_ACTIVE];
    char inline_bytes[INLINE_BYTES];
} State;

enum { C_LIST, C_TUPLE, C_DICT };

/* -- the output buffer ------------------------------------------------------ */

static void
state_init(State *s)
{
    s->p = s->inline_bytes;
    s->len = 0;
    s->cap = INLINE_BYTES;
    s->budget = 0;
    s->active = s->inline_active;
    s->nactive = 0;
    s->capactive = INLINE_ACTIVE;
    s->level = 0;
}

static void
state_free(State *s)
{
    if (s->p != s->inline_bytes)
        PyMem_Free(s->p);
    if (s->active != s->inline_active)
        PyMem_Free(s->active);
}

static int
grow(State *s, Py_ssize_t more)
{
    if (more > PY_SSIZE_T_MAX / 2 - s->len) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t cap = s->cap;
    while (cap < s->len + more)
        cap *= 2;
    char *p;
    if (s->p == s->inline_bytes) {
        p = PyMem_Malloc((size_t)cap);
        if (p != NULL)
            memcpy(p, s->p, (size_t)s->len);
    }
    else
        p = PyMem_Realloc(s->p, (size_t)cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    s->p = p;
    s->cap = cap;
    return 0;
}

static inline int
reserve(State *s, Py_ssize_t more)
{
    return s->cap - s->len >= more ? 0 : grow(s, more);
}

static inline unsigned char *
at(State *s)
{
    return (unsigned char *)s->p + s->len;
}

static inline void
be16(unsigned char *q, uint16_t v)
{
    q[0] = (unsigned char)(v >> 8);
    q[1] = (unsigned char)v;
}

static inline void
be32(unsigned char *q, uint32_t v)
{
    q[0] = (unsigned char)(v >> 24);
    q[1] = (unsigned char)(v >> 16);
    q[2] = (unsigned char)(v >> 8);
    q[3] = (unsigned char)v;
}

static inline void
be64(unsigned char *q, uint64_t v)
{
    be32(q, (uint32_t)(v >> 32));
    be32(q + 4, (uint32_t)v);
}

static int
put_raw(State *s, const char *data, Py_ssize_t n)
{
    if (reserve(s, n) < 0)
        return -1;
    memcpy(s->p + s->len, data, (size_t)n);
    s->len += n;
    return 0;
}

#define PUT_LIT(s, lit) put_raw((s), (lit), (Py_ssize_t)sizeof(lit) - 1)

static inline int
put_byte(State *s, unsigned char b)
{
    if (reserve(s, 1) < 0)
        return -1;
    s->p[s->len++] = (char)b;
    return 0;
}

/* -- msgpack, with msgpack's own choice of the smallest encoding ------------ */

static int
put_uint(State *s, uint64_t u)
{
    if (reserve(s, 9) < 0)
        return -1;
    unsigned char *q = at(s);
    if (u < 0x80) {
        q[0] = (unsigned char)u;
        s->len += 1;
    }
    else if (u <= 0xFF) {
        q[0] = 0xcc;
        q[1] = (unsigned char)u;
        s->len += 2;
    }
    else if (u <= 0xFFFF) {
        q[0] = 0xcd;
        be16(q + 1, (uint16_t)u);
        s->len += 3;
    }
    else if (u <= 0xFFFFFFFFu) {
        q[0] = 0xce;
        be32(q + 1, (uint32_t)u);
        s->len += 5;
    }
    else {
        q[0] = 0xcf;
        be64(q + 1, u);
        s->len += 9;
    }
    return 0;
}

static int
put_int(State *s, int64_t d)
{
    if (d >= 0)
        return put_uint(s, (uint64_t)d);
    if (reserve(s, 9) < 0)
        return -1;
    unsigned char *q = at(s);
    if (d >= -32) {
        q[0] = (unsigned char)(int8_t)d;
        s->len += 1;
    }
    else if (d >= INT8_MIN) {
        q[0] = 0xd0;
        q[1] = (unsigned char)(int8_t)d;
        s->len += 2;
    }
    else if (d >= INT16_MIN) {
        q[0] = 0xd1;
        be16(q + 1, (uint16_t)(int16_t)d);
        s->len += 3;
    }
    else if (d >= INT32_MIN) {
        q[0] = 0xd2;
        be32(q + 1, (uint32_t)(int32_t)d);
        s->len += 5;
    }
    else {
        q[0] = 0xd3;
        be64(q + 1, (uint64_t)d);
        s->len += 9;
    }
    return 0;
}

static int
put_double(State *s, double x)
{
    if (reserve(s, 9) < 0)
        return -1;
    unsigned char *q = at(s);
    q[0] = 0xcb;
    if (PyFloat_Pack8(x, (char *)q + 1, 0) < 0)
        return -1;
    s->len += 9;
    return 0;
}

static inline int
header_size(Py_ssize_t n)
{
    return n < 16 ? 1 : n <= 0xFFFF ? 3 : 5;
}

/* an array (fix 0x90) or map (fix 0x80) header, written where s->len is */
static int
put_header(State *s, Py_ssize_t n, unsigned char fix, unsigned char c16, unsigned char c32)
{
    if ((uint64_t)n > 0xFFFFFFFFu) {
        PyErr_SetString(PyExc_ValueError, "list is too large");
        return -1;
    }
    if (reserve(s, 5) < 0)
        return -1;
    unsigned char *q = at(s);
    if (n < 16)
        q[0] = (unsigned char)(fix | n);
    else if (n <= 0xFFFF) {
        q[0] = c16;
        be16(q + 1, (uint16_t)n);
    }
    else {
        q[0] = c32;
        be32(q + 1, (uint32_t)n);
    }
    s->len += header_size(n);
    return 0;
}

#define put_array_header(s, n) put_header((s), (n), 0x90, 0xdc, 0xdd)
#define put_map_header(s, n) put_header((s), (n), 0x80, 0xde, 0xdf)

static int
put_str_header(State *s, Py_ssize_t n)
{
    if (reserve(s, 5) < 0)
        return -1;
    unsigned char *q = at(s);
    if (n < 32) {
        q[0] = (unsigned char)(0xa0 | n);
        s->len += 1;
    }
    else if (n <= 0xFF) {
        q[0] = 0xd9;
        q[1] = (unsigned char)n;
        s->len += 2;
    }
    else if (n <= 0xFFFF) {
        q[0] = 0xda;
        be16(q + 1, (uint16_t)n);
        s->len += 3;
    }
    else if ((uint64_t)n <= 0xFFFFFFFFu) {
        q[0] = 0xdb;
        be32(q + 1, (uint32_t)n);
        s->len += 5;
    }
    else {
        PyErr_SetString(PyExc_ValueError, "unicode string is too large");
        return -1;
    }
    return 0;
}

static int
put_bin(State *s, const char *data, Py_ssize_t n)
{
    if (reserve(s, 5) < 0)
        return -1;
    unsigned char *q = at(s);
    if (n <= 0xFF) {
        q[0] = 0xc4;
        q[1] = (unsigned char)n;
        s->len += 2;
    }
    else if (n <= 0xFFFF) {
        q[0] = 0xc5;
        be16(q + 1, (uint16_t)n);
        s->len += 3;
    }
    else if ((uint64_t)n <= 0xFFFFFFFFu) {
        q[0] = 0xc6;
        be32(q + 1, (uint32_t)n);
        s->len += 5;
    }
    else {
        PyErr_SetString(PyExc_ValueError, "bytes object is too large");
        return -1;
    }
    return put_raw(s, data, n);
}

static inline int
is_surrogate(Py_UCS4 c)
{
    return c >= 0xD800 && c <= 0xDFFF;
}

/* The first n code points of a str, as UTF-8 (a lone surrogate, which UTF-8
 * cannot hold, as the six characters \udXXX: Python's "backslashreplace"),
 * straight into the buffer: no UTF-8 copy is cached on the str, no slice is
 * made. */
static int
put_text(State *s, PyObject *u, Py_ssize_t n)
{
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(u) < 0)
        return -1;
#endif
    if (PyUnicode_IS_ASCII(u)) {
        if (put_str_header(s, n) < 0)
            return -1;
        return put_raw(s, (const char *)PyUnicode_DATA(u), n);
    }
    int kind = PyUnicode_KIND(u);
    const void *data = PyUnicode_DATA(u);
    Py_ssize_t size = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        size += c < 0x80 ? 1 : c < 0x800 ? 2 : is_surrogate(c) ? 6 : c < 0x10000 ? 3 : 4;
    }
    if (put_str_header(s, size) < 0 || reserve(s, size) < 0)
        return -1;
    static const char hex[] = "0123456789abcdef";
    unsigned char *q = at(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80)
            *q++ = (unsigned char)c;
        else if (c < 0x800) {
            *q++ = (unsigned char)(0xC0 | (c >> 6));
            *q++ = (unsigned char)(0x80 | (c & 0x3F));
        }
        else if (is_surrogate(c)) {
            *q++ = '\\';
            *q++ = 'u';
            *q++ = (unsigned char)hex[(c >> 12) & 0xF];
            *q++ = (unsigned char)hex[(c >> 8) & 0xF];
            *q++ = (unsigned char)hex[(c >> 4) & 0xF];
            *q++ = (unsigned char)hex[c & 0xF];
        }
        else if (c < 0x10000) {
            *q++ = (unsigned char)(0xE0 | (c >> 12));
            *q++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            *q++ = (unsigned char)(0x80 | (c & 0x3F));
        }
        else {
            *q++ = (unsigned char)(0xF0 | (c >> 18));
            *q++ = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
            *q++ = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            *q++ = (unsigned char)(0x80 | (c & 0x3F));
        }
    }
    s->len += size;
    return 0;
}

/* 1: packed; 0: beyond 64 bits (nothing written); -1: error */
static int
try_put_int(State *s, PyObject *v)
{
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow == 0) {
        if (x == -1 && PyErr_Occurred())
            return -1;
        return put_int(s, (int64_t)x) < 0 ? -1 : 1;
    }
    if (overflow < 0)
        return 0;
    unsigned long long u = PyLong_AsUnsignedLongLong(v);
    if (u == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    return put_uint(s, (uint64_t)u) < 0 ? -1 : 1;
}

/* Plain data (what the snapshotter's Python code returns), as msgpack.packb
 * packs it. No Python code runs here: borrowed references are safe. */
static int
pack_plain(State *s, PyObject *o, int level)
{
    if (level > PLAIN_LEVELS) {
        PyErr_SetString(PyExc_ValueError, "recursion limit exceeded.");
        return -1;
    }
    if (o == Py_None)
        return put_byte(s, 0xc0);
    if (o == Py_True)
        return put_byte(s, 0xc3);
    if (o == Py_False)
        return put_byte(s, 0xc2);
    if (PyLong_Check(o)) {
        int r = try_put_int(s, o);
        if (r == 0)
            PyErr_SetString(PyExc_OverflowError, "Integer value out of range");
        return r > 0 ? 0 : -1;
    }
    if (PyFloat_Check(o))
        return put_double(s, PyFloat_AS_DOUBLE(o));
    if (PyBytes_Check(o))
        return put_bin(s, PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o));
    if (PyByteArray_Check(o))
        return put_bin(s, PyByteArray_AS_STRING(o), PyByteArray_GET_SIZE(o));
    if (PyUnicode_Check(o))
        return put_text(s, o, PyUnicode_GET_LENGTH(o));
    if (PyDict_Check(o)) {
        if (put_map_header(s, PyDict_GET_SIZE(o)) < 0)
            return -1;
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(o, &pos, &k, &v))
            if (pack_plain(s, k, level + 1) < 0 || pack_plain(s, v, level + 1) < 0)
                return -1;
        return 0;
    }
    if (PyList_Check(o) || PyTuple_Check(o)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
        PyObject **items = PySequence_Fast_ITEMS(o);
        if (put_array_header(s, n) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < n; i++)
            if (pack_plain(s, items[i], level + 1) < 0)
                return -1;
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "can not serialize '%.200s' object", Py_TYPE(o)->tp_name);
    return -1;
}

/* -- secrets ----------------------------------------------------------------- */

static int
call_is_secret(Encoder *e, PyObject *name)
{
    PyObject *r = PyObject_CallOneArg(e->is_secret, name);
    if (r == NULL)
        return -1;
    int t = PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

/* snapshotter.is_secret(name): a dict lookup for a str seen before */
static int
check_secret(Encoder *e, PyObject *name)
{
    PyTypeObject *t = Py_TYPE(name);
    if (t == &PyUnicode_Type) {
        PyObject *hit = PyDict_GetItemWithError(e->cache, name);     /* borrowed */
        if (hit != NULL)
            return hit == Py_True;
        if (PyErr_Occurred())
            return -1;
        int r = call_is_secret(e, name);
        if (r >= 0 && PyDict_GET_SIZE(e->cache) < CACHE_ENTRIES
                && PyUnicode_GET_LENGTH(name) <= CACHE_LENGTH
                && PyDict_SetItem(e->cache, name, r ? Py_True : Py_False) < 0)
            return -1;
        return r;
    }
    /* is_secret is false for whatever is not a str; these are surely not */
    if (t == &PyLong_Type || name == Py_None || t == &PyBool_Type || t == &PyFloat_Type
            || t == &PyBytes_Type || t == &PyTuple_Type)
        return 0;
    return call_is_secret(e, name);
}

/* -- values ------------------------------------------------------------------ */

static inline Py_ssize_t
slice_length(Py_ssize_t len, Py_ssize_t bound)     /* len(x[:bound]) */
{
    if (bound >= 0)
        return bound < len ? bound : len;
    return len + bound > 0 ? len + bound : 0;
}

static int enc_node(Encoder *e, State *s, PyObject *v, Py_ssize_t depth);

/* A node outside the common types: snapshotter.capture_node returns its plain
 * data, which is packed here. The nodes left and the containers being
 * encoded go with it, so that its budget and cycles are the reference's. */
static int
fallback(Encoder *e, State *s, PyObject *v, Py_ssize_t depth)
{
    int rc = -1;
    PyObject *depth_obj = NULL, *budget = NULL, *active = NULL, *result = NULL;
    if ((depth_obj = PyLong_FromSsize_t(depth)) == NULL || (budget = PyList_New(1)) == NULL)
        goto done;
    PyObject *left = PyLong_FromSsize_t(s->budget);
    if (left == NULL)
        goto done;
    PyList_SET_ITEM(budget, 0, left);
    if (s->nactive == 0)
        active = Py_NewRef(Py_None);
    else {
        if ((active = PySet_New(NULL)) == NULL)
            goto done;
        for (Py_ssize_t i = 0; i < s->nactive; i++) {
            PyObject *id = PyLong_FromVoidPtr(s->active[i]);     /* id() */
            int r = id == NULL ? -1 : PySet_Add(active, id);
            Py_XDECREF(id);
            if (r < 0)
                goto done;
        }
    }
    PyObject *args[4] = {v, depth_obj, budget, active};
    result = PyObject_Vectorcall(e->capture_node, args, 4, NULL);
    if (result == NULL)
        goto done;
    left = PyList_GET_SIZE(budget) == 1 ? PyList_GET_ITEM(budget, 0) : NULL;
    if (left == NULL || !PyLong_Check(left)) {
        PyErr_SetString(PyExc_TypeError, "capture_node left no budget");
        goto done;
    }
    int overflow;
    long long n = PyLong_AsLongLongAndOverflow(left, &overflow);
    if (n == -1 && PyErr_Occurred())
        goto done;
    s->budget = overflow > 0 || n > BOUND_LIMIT ? BOUND_LIMIT
                : overflow < 0 || n < -BOUND_LIMIT ? -BOUND_LIMIT : (Py_ssize_t)n;
    rc = pack_plain(s, result, 0);
done:
    Py_XDECREF(depth_obj);
    Py_XDECREF(budget);
    Py_XDECREF(active);
    Py_XDECREF(result);
    return rc;
}

static int
push_active(State *s, PyObject *v)
{
    if (s->nactive == s->capactive) {
        Py_ssize_t cap = s->capactive * 2;
        PyObject **a;
        if (s->active == s->inline_active) {
            a = PyMem_Malloc((size_t)cap * sizeof(PyObject *));
            if (a != NULL)
                memcpy(a, s->active, (size_t)s->nactive * sizeof(PyObject *));
        }
        else
            a = PyMem_Realloc(s->active, (size_t)cap * sizeof(PyObject *));
        if (a == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        s->active = a;
        s->capactive = cap;
    }
    s->active[s->nactive++] = v;
    return 0;
}

/* The array header written at `hdr` for `predicted` items, made the one for
 * `count` (fewer when the budget ran out, more if user code grew the list). */
static int
fix_array_header(State *s, Py_ssize_t hdr, Py_ssize_t predicted, Py_ssize_t count)
{
    int before = header_size(predicted), after = header_size(count);
    if (after > before && reserve(s, after - before) < 0)
        return -1;
    if (after != before) {
        memmove(s->p + hdr + after, s->p + hdr + before, (size_t)(s->len - hdr - before));
        s->len += after - before;
    }
    Py_ssize_t end = s->len;
    s->len = hdr;
    if (put_array_header(s, count) < 0)     /* reserves nothing: room is there */
        return -1;
    s->len = end;
    return 0;
}

/* {"type": T, "items": [...], "len": N?}, as Snapshotter._sequence and _dict */
static int
enc_items(Encoder *e, State *s, PyObject *v, Py_ssize_t depth, int kind,
          const char *name, Py_ssize_t name_len, Py_ssize_t size)
{
    Py_ssize_t map_at = s->len;
    if (reserve(s, 1 + 5 + name_len + 6) < 0)
        return -1;
    s->p[s->len++] = (char)0x82;
    PUT_LIT(s, K_TYPE);
    put_raw(s, name, name_len);
    PUT_LIT(s, K_ITEMS);
    Py_ssize_t predicted = size < e->max_items ? size : e->max_items;
    if (predicted < 0)
        predicted = 0;
    Py_ssize_t hdr = s->len;
    if (put_array_header(s, predicted) < 0)
        return -1;
    Py_ssize_t count = 0;
    if (kind == C_DICT) {
        Py_ssize_t pos = 0;
        PyObject *k, *val;
        for (;;) {
            if (PyDict_GET_SIZE(v) != size) {   /* user code changed it meanwhile */
                PyErr_SetString(PyExc_RuntimeError,
                                "dictionary changed size during iteration");
                return -1;
            }
            if (!PyDict_Next(v, &pos, &k, &val))
                break;
            if (count >= e->max_items || s->budget <= 0)
                break;
            Py_INCREF(k);
            Py_INCREF(val);
            int r = put_byte(s, 0x92);
            if (r == 0)
                r = enc_node(e, s, k, 0);
            if (r == 0) {
                int secret = check_secret(e, k);
                r = secret < 0 ? -1 : secret ? PUT_LIT(s, REDACTED)
                                             : enc_node(e, s, val, depth - 1);
            }
            Py_DECREF(k);
            Py_DECREF(val);
            if (r < 0)
                return -1;
            count++;
        }
    }
    else if (kind == C_LIST) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
            if (count >= e->max_items || s->budget <= 0)
                break;
            PyObject *item = Py_NewRef(PyList_GET_ITEM(v, i));
            int r = enc_node(e, s, item, depth - 1);
            Py_DECREF(item);
            if (r < 0)
                return -1;
            count++;
        }
    }
    else {
        for (Py_ssize_t i = 0; i < size; i++) {
            if (count >= e->max_items || s->budget <= 0)
                break;
            if (enc_node(e, s, PyTuple_GET_ITEM(v, i), depth - 1) < 0)
                return -1;
            count++;
        }
    }
    if (count != predicted && fix_array_header(s, hdr, predicted, count) < 0)
        return -1;
    if (count < size) {
        s->p[map_at] = (char)0x83;
        if (PUT_LIT(s, K_LEN) < 0 || put_uint(s, (uint64_t)size) < 0)
            return -1;
    }
    return 0;
}

/* A list, tuple or dict (exactly): a cycle, cut by depth or budget, or its items. */
static int
enc_container(Encoder *e, State *s, PyObject *v, Py_ssize_t depth, int kind)
{
    const char *name;
    Py_ssize_t name_len, size;
    if (kind == C_LIST) {
        name = N_LIST;
        name_len = sizeof(N_LIST) - 1;
        size = PyList_GET_SIZE(v);
    }
    else if (kind == C_TUPLE) {
        name = N_TUPLE;
        name_len = sizeof(N_TUPLE) - 1;
        size = PyTuple_GET_SIZE(v);
    }
    else {
        name = N_DICT;
        name_len = sizeof(N_DICT) - 1;
        size = PyDict_GET_SIZE(v);
    }
    for (Py_ssize_t i = 0; i < s->nactive; i++) {
        if (s->active[i] == v) {
            if (reserve(s, 1 + 5 + name_len + 6) < 0)
                return -1;
            s->p[s->len++] = (char)0x82;
            PUT_LIT(s, K_TYPE);
            put_raw(s, name, name_len);
            PUT_LIT(s, K_CYCLE);
            return put_uint(s, (uint64_t)(uintptr_t)v);
        }
    }
    if (depth <= 0 || s->budget <= 0) {
        if (reserve(s, 1 + 5 + name_len + 4) < 0)
            return -1;
        s->p[s->len++] = (char)0x82;
        PUT_LIT(s, K_TYPE);
        put_raw(s, name, name_len);
        PUT_LIT(s, K_LEN);
        return put_uint(s, (uint64_t)size);
    }
    int guarded = s->level >= GUARD_LEVEL;
    if (guarded && Py_EnterRecursiveCall(" while encoding a value"))
        return -1;
    int rc = push_active(s, v);
    if (rc == 0) {
        s->level++;
        rc = enc_items(e, s, v, depth, kind, name, name_len, size);
        s->level--;
        s->nactive--;
    }
    if (guarded)
        Py_LeaveRecursiveCall();
    return rc;
}

/* One node, as Snapshotter._capture(value, depth, active, budget). */
static int
enc_node(Encoder *e, State *s, PyObject *v, Py_ssize_t depth)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyLong_Type) {
        int r = try_put_int(s, v);
        if (r == 0)
            return fallback(e, s, v, depth);    /* beyond 64 bits */
        if (r < 0)
            return -1;
        s->budget--;
        return 0;
    }
    if (t == &PyUnicode_Type) {
        s->budget--;
        Py_ssize_t len = PyUnicode_GET_LENGTH(v);
        if (len <= e->max_string)
            return put_text(s, v, len);
        if (reserve(s, 1 + 5 + 4 + 6) < 0)
            return -1;
        s->p[s->len++] = (char)0x83;
        PUT_LIT(s, K_TYPE);
        PUT_LIT(s, N_STR);
        PUT_LIT(s, K_VALUE);
        if (put_text(s, v, slice_length(len, e->max_string)) < 0 || PUT_LIT(s, K_LEN) < 0)
            return -1;
        return put_uint(s, (uint64_t)len);
    }
    if (v == Py_None) {
        s->budget--;
        return put_byte(s, 0xc0);
    }
    if (t == &PyBool_Type) {
        s->budget--;
        return put_byte(s, v == Py_True ? 0xc3 : 0xc2);
    }
    if (t == &PyFloat_Type) {
        s->budget--;
        return put_double(s, PyFloat_AS_DOUBLE(v));
    }
    if (t == &PyList_Type || t == &PyTuple_Type || t == &PyDict_Type) {
        s->budget--;
        return enc_container(e, s, v, depth,
                             t == &PyList_Type ? C_LIST : t == &PyTuple_Type ? C_TUPLE : C_DICT);
    }
    if (t == &PyBytes_Type) {
        s->budget--;
        Py_ssize_t len = PyBytes_GET_SIZE(v);
        const char *data = PyBytes_AS_STRING(v);
        if (len <= e->max_bytes)
            return put_bin(s, data, len);
        if (reserve(s, 1 + 5 + 6 + 6) < 0)
            return -1;
        s->p[s->len++] = (char)0x83;
        PUT_LIT(s, K_TYPE);
        PUT_LIT(s, N_BYTES);
        PUT_LIT(s, K_VALUE);
        if (put_bin(s, data, slice_length(len, e->max_bytes)) < 0 || PUT_LIT(s, K_LEN) < 0)
            return -1;
        return put_uint(s, (uint64_t)len);
    }
    return fallback(e, s, v, depth);
}

static PyObject *
fetch_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/* Does the exception set go to the caller? MemoryError, and what is not an
 * Exception (KeyboardInterrupt, SystemExit), as from Snapshotter.capture. */
static int
passes_through(void)
{
    return PyErr_ExceptionMatches(PyExc_MemoryError)
           || !PyErr_ExceptionMatches(PyExc_Exception);
}

/* The failure being raised, as the reference's error shape for `value`:
 * snapshotter.capture_failed(value, exc) ({"type": T, "error": "cannot
 * capture: ..."}), or a fixed one if even that fails. */
static int
put_failure(Encoder *e, State *s, PyObject *value)
{
    if (passes_through())
        return -1;
    Py_ssize_t start = s->len;
    PyObject *exc = fetch_exception();
    PyObject *shape = PyObject_CallFunctionObjArgs(e->capture_failed, value,
                                                   exc != NULL ? exc : Py_None, NULL);
    Py_XDECREF(exc);
    if (shape != NULL) {
        int r = pack_plain(s, shape, 0);
        Py_DECREF(shape);
        if (r == 0)
            return 0;
        s->len = start;
    }
    if (PyErr_Occurred()) {
        if (passes_through())
            return -1;
        PyErr_Clear();
    }
    return PUT_LIT(s, FAILED);
}

/* snapshotter.capture(value), packed */
static int
put_value(Encoder *e, State *s, PyObject *v)
{
    Py_ssize_t start = s->len;
    s->budget = e->max_nodes;
    s->nactive = 0;
    s->level = 0;
    if (enc_node(e, s, v, e->max_depth) == 0)
        return 0;
    s->len = start;
    s->nactive = 0;
    s->level = 0;
    return put_failure(e, s, v);
}

/* snapshotter.capture_named(name, value), packed */
static int
put_named(Encoder *e, State *s, PyObject *name, PyObject *v)
{
    int secret = check_secret(e, name);
    if (secret > 0)
        return PUT_LIT(s, REDACTED);
    if (secret == 0)
        return put_value(e, s, v);
    return put_failure(e, s, v);
}

/* -- the type ------------------------------------------------------------------ */

static int
ready(Encoder *e)
{
    if (e->cache == NULL) {
        PyErr_SetString(PyExc_ValueError, "Encoder not initialized");
        return 0;
    }
    return 1;
}

static PyObject *
finish(State *s, int rc)
{
    PyObject *out = rc < 0 ? NULL : PyBytes_FromStringAndSize(s->p, s->len);
    state_free(s);
    return out;
}

static PyObject *
encoder_encode(Encoder *e, PyObject *value)
{
    if (!ready(e))
        return NULL;
    State s;
    state_init(&s);
    return finish(&s, put_value(e, &s, value));
}

static PyObject *
encoder_encode_named(Encoder *e, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "encode_named() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (!ready(e))
        return NULL;
    State s;
    state_init(&s);
    return finish(&s, put_named(e, &s, args[0], args[1]));
}

/* 1: every name an exact str, no two equal; 0: not so; -1: error */
static int
distinct_names(PyObject **names, Py_ssize_t n)
{
    Py_hash_t hashes[FAST_PAIRS];
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_CheckExact(names[i]))
            return 0;
        if ((hashes[i] = PyObject_Hash(names[i])) == -1)
            return -1;
        for (Py_ssize_t j = 0; j < i; j++) {
            if (names[i] == names[j])
                return 0;
            if (hashes[i] == hashes[j]) {
                int c = PyUnicode_Compare(names[i], names[j]);
                if (c == -1 && PyErr_Occurred())
                    return -1;
                if (c == 0)
                    return 0;
            }
        }
    }
    return 1;
}

static PyObject *
encoder_encode_map(Encoder *e, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "encode_map() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (!ready(e))
        return NULL;
    PyObject *names = PySequence_Fast(args[0], "encode_map(): names must be a sequence");
    if (names == NULL)
        return NULL;
    PyObject *values = PySequence_Fast(args[1], "encode_map(): values must be a sequence");
    if (values == NULL) {
        Py_DECREF(names);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(names);
    if (PySequence_Fast_GET_SIZE(values) < n)
        n = PySequence_Fast_GET_SIZE(values);          /* zip() */
    PyObject *kbuf[FAST_PAIRS], *vbuf[FAST_PAIRS];
    PyObject *keys = NULL, *vals = NULL;
    PyObject **ks = kbuf, **vs = vbuf;
    int fast = n <= FAST_PAIRS ? distinct_names(PySequence_Fast_ITEMS(names), n) : 0;
    if (fast < 0)
        goto fail;
    if (fast) {
        /* held: user code (a __repr__) may change a list of values meanwhile */
        for (Py_ssize_t i = 0; i < n; i++) {
            kbuf[i] = Py_NewRef(PySequence_Fast_GET_ITEM(names, i));
            vbuf[i] = Py_NewRef(PySequence_Fast_GET_ITEM(values, i));
        }
    }
    else {
        /* names repeat, are not all str, or are many: {name: value} as the
         * reference's dict comprehension makes it (first place, last value) */
        PyObject *d = PyDict_New();
        if (d == NULL)
            goto fail;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (i >= PySequence_Fast_GET_SIZE(names) || i >= PySequence_Fast_GET_SIZE(values))
                break;
            PyObject *k = Py_NewRef(PySequence_Fast_GET_ITEM(names, i));
            PyObject *v = Py_NewRef(PySequence_Fast_GET_ITEM(values, i));
            int r = PyDict_SetItem(d, k, v);
            Py_DECREF(k);
            Py_DECREF(v);
            if (r < 0) {
                Py_DECREF(d);
                goto fail;
            }
        }
        keys = PyDict_Keys(d);
        vals = keys != NULL ? PyDict_Values(d) : NULL;
        Py_DECREF(d);
        if (vals == NULL)
            goto fail;
        n = PyList_GET_SIZE(keys);
        ks = PySequence_Fast_ITEMS(keys);
        vs = PySequence_Fast_ITEMS(vals);
    }
    Py_DECREF(names);
    Py_DECREF(values);
    State s;
    state_init(&s);
    int rc = put_map_header(&s, n);
    for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
        rc = pack_plain(&s, ks[i], 0);
        if (rc == 0)
            rc = put_named(e, &s, ks[i], vs[i]);
    }
    if (fast) {
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_DECREF(kbuf[i]);
            Py_DECREF(vbuf[i]);
        }
    }
    else {
        Py_DECREF(keys);
        Py_DECREF(vals);
    }
    return finish(&s, rc);
fail:
    Py_XDECREF(keys);
    Py_DECREF(names);
    Py_DECREF(values);
    return NULL;
}

static int
read_bound(PyObject *snap, const char *attr, Py_ssize_t *out)
{
    PyObject *v = PyObject_GetAttrString(snap, attr);
    if (v == NULL)
        return -1;
    int overflow;
    long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
    Py_DECREF(v);
    if (n == -1 && PyErr_Occurred())
        return -1;
    /* beyond a quarter of the address space a bound is no bound at all */
    *out = overflow > 0 || n > BOUND_LIMIT ? BOUND_LIMIT
           : overflow < 0 || n < -BOUND_LIMIT ? -BOUND_LIMIT : (Py_ssize_t)n;
    return 0;
}

static PyObject *
encoder_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"snapshotter", NULL};
    PyObject *snap;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Encoder", kwlist, &snap))
        return NULL;
    Encoder *e = (Encoder *)type->tp_alloc(type, 0);
    if (e == NULL)
        return NULL;
    e->snapshotter = Py_NewRef(snap);
    if (read_bound(snap, "max_depth", &e->max_depth) < 0
            || read_bound(snap, "max_items", &e->max_items) < 0
            || read_bound(snap, "max_string", &e->max_string) < 0
            || read_bound(snap, "max_bytes", &e->max_bytes) < 0
            || read_bound(snap, "max_nodes", &e->max_nodes) < 0)
        goto fail;
    PyObject *refs = PyObject_GetAttrString(snap, "object_refs");
    if (refs == NULL)
        goto fail;
    e->object_refs = PyObject_IsTrue(refs);
    Py_DECREF(refs);
    if (e->object_refs < 0
            || (e->is_secret = PyObject_GetAttrString(snap, "is_secret")) == NULL
            || (e->capture_node = PyObject_GetAttrString(snap, "capture_node")) == NULL
            || (e->capture_failed = PyObject_GetAttrString(snap, "capture_failed")) == NULL
            || (e->cache = PyDict_New()) == NULL)
        goto fail;
    return (PyObject *)e;
fail:
    Py_DECREF(e);
    return NULL;
}

static int
encoder_traverse(Encoder *e, visitproc visit, void *arg)
{
    Py_VISIT(e->snapshotter);
    Py_VISIT(e->is_secret);
    Py_VISIT(e->capture_node);
    Py_VISIT(e->capture_failed);
    Py_VISIT(e->cache);
    return 0;
}

static int
encoder_clear(Encoder *e)
{
    Py_CLEAR(e->snapshotter);
    Py_CLEAR(e->is_secret);
    Py_CLEAR(e->capture_node);
    Py_CLEAR(e->capture_failed);
    Py_CLEAR(e->cache);
    return 0;
}

static void
encoder_dealloc(Encoder *e)
{
    PyObject_GC_UnTrack(e);
    encoder_clear(e);
    Py_TYPE(e)->tp_free((PyObject *)e);
}

static PyObject *
encoder_get_snapshotter(Encoder *e, void *Py_UNUSED(closure))
{
    return Py_NewRef(e->snapshotter != NULL ? e->snapshotter : Py_None);
}

static PyObject *
encoder_get_cached(Encoder *e, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(e->cache != NULL ? PyDict_GET_SIZE(e->cache) : 0);
}

static PyMethodDef encoder_methods[] = {
    {"encode", (PyCFunction)encoder_encode, METH_O,
     "encode(value) -> bytes: msgpack of snapshotter.capture(value)"},
    {"encode_named", (PyCFunction)(void (*)(void))encoder_encode_named, METH_FASTCALL,
     "encode_named(name, value) -> bytes: msgpack of snapshotter.capture_named(name, value)"},
    {"encode_map", (PyCFunction)(void (*)(void))encoder_encode_map, METH_FASTCALL,
     "encode_map(names, values) -> bytes: msgpack of "
     "snapshotter.capture_mapping(zip(names, values))"},
    {NULL}
};

static PyGetSetDef encoder_getset[] = {
    {"snapshotter", (getter)encoder_get_snapshotter, NULL, "the Snapshotter it encodes for",
     NULL},
    {"cached_names", (getter)encoder_get_cached, NULL,
     "how many is_secret verdicts it keeps", NULL},
    {NULL}
};

static PyTypeObject EncoderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "cinescope.capture._values.Encoder",
    .tp_basicsize = sizeof(Encoder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Encoder(snapshotter): the snapshotter's captures as msgpack bytes.",
    .tp_new = encoder_new,
    .tp_traverse = (traverseproc)encoder_traverse,
    .tp_clear = (inquiry)encoder_clear,
    .tp_dealloc = (destructor)encoder_dealloc,
    .tp_methods = encoder_methods,
    .tp_getset = encoder_getset,
};

PyDoc_STRVAR(values_doc,
"Values encoded in C (see capture/values.py: Snapshotter, new_encoder).\n"
"\n"
"Encoder(snapshotter) reads the snapshotter's bounds once (max_depth,\n"
"max_items, max_string, max_bytes, max_nodes, object_refs) and encodes\n"
"what it would capture straight into msgpack:\n"
"\n"
"  encode(value)              == packb(snapshotter.capture(value))\n"
"  encode_named(name, value)  == packb(snapshotter.capture_named(name, value))\n"
"  encode_map(names, values)  == packb(snapshotter.capture_mapping(zip(names, values)))\n"
"\n"
"(packb: msgpack.packb(data, use_bin_type=True)), byte for byte.\n"
"\n"
"None, bool, int within 64 bits, float, str, bytes, and list, tuple and\n"
"dict of those (the exact types) are encoded here, within the bounds, with\n"
"the reference's cycle marks. Every other node (subclasses, namedtuples,\n"
"sets, bytearray, ints beyond 64 bits, instances) goes to\n"
"snapshotter.capture_node(value, depth, budget, active), which returns the\n"
"plain data the reference makes of it (type and id, repr only where the\n"
"snapshotter makes one); the nodes left (budget, a 1-item list) and the ids\n"
"of the containers being encoded (active) go with it and come back, so\n"
"bounds and cycles are the reference's. A dict key's is_secret verdict is\n"
"cached per str (up to 4096 keys of up to 256 characters).\n"
"\n"
"Where it differs from the reference:\n"
"\n"
"- A str that UTF-8 cannot hold (lone surrogates, as os.fsdecode makes of\n"
"  undecodable file names) is encoded with each surrogate as the six\n"
"  characters \\udXXX, as str.encode('utf-8', 'backslashreplace') does; the\n"
"  reference's packb raises there. Its length and cut are still counted in\n"
"  code points of the original. The pure-Python encoder (new_encoder with\n"
"  CINESCOPE_VALUES=python) does the same.\n"
"- Nesting deeper than the interpreter's recursion limit allows: the\n"
"  reference fails (RecursionError) at about a third of the limit, the C\n"
"  encoder at the limit; only with max_depth in the hundreds.\n"
"- The bounds are read when the Encoder is made; the reference reads them\n"
"  on each capture.\n"
"\n"
"Failures: what the snapshotter's Python code raises (and the encoder's own\n"
"errors, as data msgpack cannot pack) gives the reference's error shape for\n"
"the whole value, {\"type\": T, \"error\": \"cannot capture: ...\"} (per value\n"
"in a map). What is not an Exception (KeyboardInterrupt, SystemExit from a\n"
"user's __repr__) goes to the caller, as from Snapshotter.capture; so does\n"
"MemoryError, which the reference would turn into the error shape.");

static struct PyModuleDef values_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_values",
    .m_doc = values_doc,
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__values(void)
{
    if (PyType_Ready(&EncoderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&values_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Encoder", (PyObject *)&EncoderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
