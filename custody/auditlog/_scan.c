/*
 * The audit reader's line walk, in C: the same decisions as the Python in reader.py, without an interpreted
 * step per line. A chunk of an audit log is a few megabytes of newline-separated JSON; the summary must count
 * every line and find the few it parses. The Python path stays (reader.py) and is the reference: a property
 * test (tests/unit/test_auditlog_scan.py) checks that both give the same answer on any bytes.
 *
 * Only reads the buffer it is given, within the length it is given; builds Python integers, tuples and a
 * list, and nothing else.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

typedef struct {
    const char *p;
    Py_ssize_t n;
    Py_ssize_t a, z; /* the two bytes of the needle compared first by the SSE2 searches (see distinctive) */
} Needle;

/* Index of needle in b[start:end] (as an index into b), or -1: bytes.find's answer, from libc's memmem. */
static inline Py_ssize_t
find_libc(const char *b, Py_ssize_t start, Py_ssize_t end, Needle nd)
{
    if (end - start < nd.n)
        return -1;
    const char *hit = memmem(b + start, (size_t)(end - start), nd.p, (size_t)nd.n);
    return hit ? (Py_ssize_t)(hit - b) : -1;
}

/* The same answer, found faster in a line: two bytes of the needle are compared at 16 positions at once (SSE2, on
 * every x86-64) and each position where both agree is checked in full. glibc's memmem takes about two
 * instructions a byte on the needles the walk looks for in every line; this, a fraction of one. */
static inline Py_ssize_t
find(const char *b, Py_ssize_t start, Py_ssize_t end, Needle nd)
{
    if (end - start < nd.n)
        return -1;
    if (nd.n == 1) {
        const char *hit = memchr(b + start, nd.p[0], (size_t)(end - start));
        return hit ? (Py_ssize_t)(hit - b) : -1;
    }
#if defined(__SSE2__)
    const Py_ssize_t last = end - nd.n; /* the last position a match may start at */
    const __m128i fa = _mm_set1_epi8(nd.p[nd.a]), fz = _mm_set1_epi8(nd.p[nd.z]);
    Py_ssize_t i = start;
    /* positions i to i + 15; the loads read b[i + a] to b[i + 15 + z], before b[end] since z < n */
    for (; i + 15 <= last; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + i + nd.a));
        __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + i + nd.z));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(x, fa), _mm_cmpeq_epi8(y, fz)));
        while (m) {
            int j = __builtin_ctz(m);
            if (memcmp(b + i + j, nd.p, (size_t)nd.n) == 0)
                return i + j;
            m &= m - 1;
        }
    }
    for (; i <= last; i++) /* the last positions, fewer than 16 */
        if (memcmp(b + i, nd.p, (size_t)nd.n) == 0)
            return i;
    return -1;
#else
    return find_libc(b, start, end, nd);
#endif
}

/* Whether b[at:end] starts with needle: bytes.startswith(needle, at, end). */
static inline int
starts(const char *b, Py_ssize_t at, Py_ssize_t end, Needle nd)
{
    return at >= 0 && end - at >= nd.n && memcmp(b + at, nd.p, (size_t)nd.n) == 0;
}

static inline Py_ssize_t
line_end(const char *b, Py_ssize_t from, Py_ssize_t n)
{
    const char *nl = memchr(b + from, '\n', (size_t)(n - from));
    return nl ? (Py_ssize_t)(nl - b) : n;
}

/* A byte that JSON's punctuation does not bring everywhere: the ones compared first, to have few candidates. */
static int
distinctive(unsigned char c)
{
    return c != 0 && strchr("\"{}[]:, \\", c) == NULL;
}

static int
needle_of(PyObject *o, Needle *nd)
{
    if (!PyBytes_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "needles must be bytes");
        return -1;
    }
    nd->p = PyBytes_AS_STRING(o);
    nd->n = PyBytes_GET_SIZE(o);
    if (nd->n == 0) { /* found everywhere: a search from each hit would find it again, at the same place */
        PyErr_SetString(PyExc_ValueError, "needles must not be empty");
        return -1;
    }
    /* the first and last distinctive bytes; the needle's ends if it has none */
    nd->a = -1;
    nd->z = nd->n - 1;
    for (Py_ssize_t k = 0; k < nd->n; k++) {
        if (distinctive((unsigned char)nd->p[k])) {
            if (nd->a < 0)
                nd->a = k;
            nd->z = k;
        }
    }
    if (nd->a < 0)
        nd->a = 0;
    return 0;
}

static int
needles_of(PyObject *tuple, Needle **out, Py_ssize_t *count)
{
    *count = PyTuple_GET_SIZE(tuple);
    *out = PyMem_New(Needle, *count > 0 ? *count : 1);
    if (*out == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < *count; k++)
        if (needle_of(PyTuple_GET_ITEM(tuple, k), &(*out)[k]) < 0)
            return -1;
    return 0;
}

static int
chunk_of(Py_buffer *view, Py_ssize_t n)
{
    if (n < 0 || n > view->len) {
        PyErr_SetString(PyExc_ValueError, "n must be within the buffer");
        return -1;
    }
    return 0;
}

/* (buf, n) arguments: the buffer, and n within it. On failure the buffer is released and -1 returned. */
static int
chunk_args(PyObject *args, Py_buffer *view, Py_ssize_t *n)
{
    if (!PyArg_ParseTuple(args, "y*n", view, n))
        return -1;
    if (chunk_of(view, *n) < 0) {
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(line_stats_doc,
"line_stats(buf, n) -> (lines, bad)\n\n"
"The lines of buf[:n] (a last line without a newline counts) and how many of them do not start with '{'.");

static PyObject *
line_stats(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t n;
    if (chunk_args(args, &view, &n) < 0)
        return NULL;
    const char *b = view.buf;
    Py_ssize_t lines = 0, bad = 0;
    if (n > 0) {
        bad = b[0] != '{';
        Py_ssize_t pos = 0;
        const char *nl;
        while ((nl = memchr(b + pos, '\n', (size_t)(n - pos))) != NULL) {
            lines++;
            pos = nl - b + 1;
            if (pos >= n)
                break;
            bad += b[pos] != '{';
        }
        lines += b[n - 1] != '\n';
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(nn)", lines, bad);
}

PyDoc_STRVAR(ascii_doc,
"ascii(buf, n) -> bool\n\n"
"Whether buf[:n] is all ASCII: bytes.isascii of the chunk, without the bytes past n.");

static PyObject *
ascii(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t n;
    if (chunk_args(args, &view, &n) < 0)
        return NULL;
    const unsigned char *b = view.buf;
    Py_ssize_t i = 0;
    int high = 0;
#if defined(__SSE2__)
    /* the high bits of 64 bytes at a time, or-ed together; looked at once a kilobyte (a byte past 127 is rare) */
    while (!high && i + 1024 <= n) {
        __m128i acc = _mm_setzero_si128();
        for (Py_ssize_t end = i + 1024; i < end; i += 64) {
            acc = _mm_or_si128(acc, _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(b + i)),
                                                 _mm_loadu_si128((const __m128i *)(const void *)(b + i + 16))));
            acc = _mm_or_si128(acc, _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(b + i + 32)),
                                                 _mm_loadu_si128((const __m128i *)(const void *)(b + i + 48))));
        }
        high = _mm_movemask_epi8(acc) != 0;
    }
#endif
    for (; !high && i < n; i++)
        high = b[i] >= 0x80;
    PyBuffer_Release(&view);
    return PyBool_FromLong(!high);
}

/* The needles the walk needs, in the order reader.Prefilter.walk passes them. */
enum { REQUEST_TYPE, ERROR, HEAD, AUTH_KEY, AFTER_AUTH, OPERATION, PATH, QUOTE, REVEALS, UPDATE, CREATE, READ,
       NEEDLES };

typedef struct {
    Needle fixed[NEEDLES];
    Needle *markers;
    Py_ssize_t nmarkers;
    Needle auth;     /* the auth object last found to be the service's (a byte no line holds there before) */
    Needle staging;  /* "path":"<mount>/data/reveals/ */
    Py_ssize_t request_span, time_end;
} Rules;

/* reader._auth_start: where the top-level auth object of a response entry starts, or -1. */
static Py_ssize_t
auth_start(const char *b, Py_ssize_t ls, Py_ssize_t le, const Rules *r)
{
    if (!starts(b, ls, le, r->fixed[HEAD]))
        return -1;
    Py_ssize_t stop = ls + r->time_end < le ? ls + r->time_end : le;
    Py_ssize_t q = find(b, ls + r->fixed[HEAD].n, stop, r->fixed[QUOTE]);
    if (q < 0 || !starts(b, q, le, r->fixed[AUTH_KEY]))
        return -1;
    return q + r->fixed[AUTH_KEY].n - 1;
}

static int
same(const char *b, Py_ssize_t a, Py_ssize_t z, Needle nd)
{
    return z - a == nd.n && memcmp(b + a, nd.p, (size_t)nd.n) == 0;
}

/* Prefilter._by_operation: whether the operation at i (-1: none) lets the service's entry be dropped. */
static int
by_operation(const char *b, Py_ssize_t i, Py_ssize_t le, const Rules *r)
{
    if (i < 0)
        return 0;
    i += r->fixed[OPERATION].n;
    Py_ssize_t q = find(b, i, le, r->fixed[QUOTE]);
    Py_ssize_t z = q >= 0 ? q : le - 1;
    if (z < i)
        z = i;
    if (same(b, i, z, r->fixed[UPDATE]) || same(b, i, z, r->fixed[CREATE])) {
        Py_ssize_t p = find(b, i, le, r->fixed[PATH]);
        return p >= 0 && starts(b, p, le, r->staging);
    }
    return !(same(b, i, z, r->fixed[READ]) && find(b, i, le, r->fixed[REVEALS]) >= 0);
}

/* What the walk says of a custody line it hands on: decode it (skip already said no), or ask Prefilter.skip. */
enum { ASK = 0, DECODE = 1 };

/* Prefilter.skip for a custody line: -1 drop, DECODE, or ASK (its fast path did not apply). A request entry is
 * decided here (kept only if it holds an error), so skip is only ever asked about other entries, for which it
 * does not look for an error: the error is searched for in request entries only. */
static int
judge(const char *b, Py_ssize_t ls, Py_ssize_t le, const Rules *r)
{
    Py_ssize_t head = ls + r->request_span < le ? ls + r->request_span : le;
    if (find(b, ls, head, r->fixed[REQUEST_TYPE]) >= 0)
        return find(b, ls, le, r->fixed[ERROR]) >= 0 ? DECODE : -1;
    Py_ssize_t start = auth_start(b, ls, le, r);
    Py_ssize_t after = start + r->auth.n;
    if (start >= 0 && starts(b, start, le, r->auth) && starts(b, after, le, r->fixed[AFTER_AUTH]))
        return by_operation(b, find(b, after, le, r->fixed[OPERATION]), le, r) ? -1 : DECODE;
    /* another token's entry: skip keeps it if its first operation is not one the service's entries are dropped
     * for (a write, an unwrap), whoever made it; only the others need skip's look at the auth object */
    if (!by_operation(b, find(b, ls, le, r->fixed[OPERATION]), le, r))
        return DECODE;
    return ASK;
}

static int
is_custody(const char *b, Py_ssize_t ls, Py_ssize_t le, const Rules *r)
{
    for (Py_ssize_t k = 0; k < r->nmarkers; k++)
        if (find(b, ls, le, r->markers[k]) >= 0)
            return 1;
    return 0;
}

static int
add_take(PyObject *takes, Py_ssize_t ls, Py_ssize_t le, int verdict)
{
    PyObject *t = Py_BuildValue("(nni)", ls, le, verdict);
    if (t == NULL)
        return -1;
    int rc = PyList_Append(takes, t);
    Py_DECREF(t);
    return rc;
}

static PyObject *
walk_lines(const char *b, Py_ssize_t n, const Rules *r)
{
    PyObject *takes = PyList_New(0);
    if (takes == NULL)
        return NULL;
    Py_ssize_t lines = 0, bad = 0, custody = 0;
    for (Py_ssize_t ls = 0; ls < n;) {
        Py_ssize_t le = line_end(b, ls, n);
        lines++;
        if (b[ls] != '{') {
            bad++;
        } else if (is_custody(b, ls, le, r)) {
            custody++;
            int verdict = judge(b, ls, le, r);
            if (verdict >= 0 && add_take(takes, ls, le, verdict) < 0) {
                Py_DECREF(takes);
                return NULL;
            }
        }
        ls = le + 1;
    }
    return Py_BuildValue("(nnnN)", lines, bad, custody, takes);
}

PyDoc_STRVAR(walk_doc,
"walk(buf, n, markers, fixed, auth, staging, request_span, time_end) -> (lines, bad, custody, takes)\n\n"
"Walk the lines of buf[:n] one by one: count them, count those that do not start with '{' (bad), those that\n"
"hold one of the markers (custody), and list the custody lines the pre-filter does not drop as\n"
"(start, end, verdict): verdict 1, decode it; 0, ask Prefilter.skip (never about a request entry).");

static PyObject *
walk(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t n, request_span, time_end;
    PyObject *markers, *fixed, *auth, *staging;
    if (!PyArg_ParseTuple(args, "y*nO!O!SSnn", &view, &n, &PyTuple_Type, &markers, &PyTuple_Type, &fixed, &auth,
                          &staging, &request_span, &time_end))
        return NULL;
    PyObject *out = NULL;
    Rules r = {.request_span = request_span, .time_end = time_end};
    if (chunk_of(&view, n) < 0 || needles_of(markers, &r.markers, &r.nmarkers) < 0)
        goto done;
    if (PyTuple_GET_SIZE(fixed) != NEEDLES) {
        PyErr_SetString(PyExc_ValueError, "wrong number of fixed needles");
        goto done;
    }
    if (request_span < 0 || time_end < 0) {
        PyErr_SetString(PyExc_ValueError, "spans must not be negative");
        goto done;
    }
    for (Py_ssize_t k = 0; k < NEEDLES; k++)
        if (needle_of(PyTuple_GET_ITEM(fixed, k), &r.fixed[k]) < 0)
            goto done;
    if (needle_of(auth, &r.auth) < 0 || needle_of(staging, &r.staging) < 0)
        goto done;
    out = walk_lines(view.buf, n, &r);
done:
    PyMem_Free(r.markers);
    PyBuffer_Release(&view);
    return out;
}

typedef struct {
    Py_ssize_t start, end;
} Span;

typedef struct {
    Span *v;
    Py_ssize_t len, cap;
} Spans;

static int
push(Spans *s, const char *b, Py_ssize_t pos, Py_ssize_t n, Py_ssize_t *next)
{
    if (s->len == s->cap) {
        Py_ssize_t cap = s->cap ? 2 * s->cap : 256;
        Span *v = PyMem_Realloc(s->v, (size_t)cap * sizeof(Span));
        if (v == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    const char *nl = pos > 0 ? memrchr(b, '\n', (size_t)pos) : NULL;
    Py_ssize_t le = line_end(b, pos, n);
    s->v[s->len++] = (Span){nl ? nl - b + 1 : 0, le};
    *next = le; /* the rest of this line is marked already */
    return 0;
}

static int
by_start(const void *a, const void *b)
{
    Py_ssize_t x = ((const Span *)a)->start, y = ((const Span *)b)->start;
    return (x > y) - (x < y);
}

/* Every line of b[:n] holding a plain needle, or the prefix followed by one of the suffixes: a pass of memmem for
 * each plain needle and one for the prefix. */
static int
mark_lines_memmem(const char *b, Py_ssize_t n, const Needle *plain, Py_ssize_t nplain, Needle prefix,
                  const Needle *suffixes, Py_ssize_t nsuffixes, Spans *out)
{
    for (Py_ssize_t k = 0; k < nplain; k++) {
        Py_ssize_t pos = find_libc(b, 0, n, plain[k]);
        while (pos >= 0) {
            Py_ssize_t next;
            if (push(out, b, pos, n, &next) < 0)
                return -1;
            pos = find_libc(b, next, n, plain[k]);
        }
    }
    if (nsuffixes == 0)
        return 0;
    /* One pass for the prefix the request-path markers share, instead of one pass per marker. */
    Py_ssize_t pos = find_libc(b, 0, n, prefix);
    while (pos >= 0) {
        Py_ssize_t after = pos + prefix.n, next = pos + 1;
        for (Py_ssize_t k = 0; k < nsuffixes; k++) {
            if (starts(b, after, n, suffixes[k])) {
                if (push(out, b, pos, n, &next) < 0)
                    return -1;
                break;
            }
        }
        pos = find_libc(b, next, n, prefix);
    }
    return 0;
}

/* The same in one pass for all needles: two bytes of each needle compared at 16 positions at once (SSE2, on every
 * x86-64), each position where both agree checked in full. A marked line is passed over whole: what else it holds
 * does not matter. */
#define MAX_PROBES 8

#if defined(__SSE2__)
typedef struct {
    Needle nd;              /* its bytes a and z are compared first */
    const Needle *suffixes; /* one of which must follow the needle (none: nothing must) */
    Py_ssize_t nsuffixes;
} Probe;

static int
matches(const char *b, Py_ssize_t at, Py_ssize_t n, const Probe *p)
{
    if (!starts(b, at, n, p->nd))
        return 0;
    if (p->nsuffixes == 0)
        return 1;
    for (Py_ssize_t k = 0; k < p->nsuffixes; k++)
        if (starts(b, at + p->nd.n, n, p->suffixes[k]))
            return 1;
    return 0;
}

/* The first i' >= i (up to last) where a block of 16 holds a candidate of either of two probes, or last + 1. */
static Py_ssize_t
skip_quiet2(const char *b, Py_ssize_t i, Py_ssize_t last, const Probe *probes, const __m128i *first,
            const __m128i *lastb)
{
    const char *a0 = b + probes[0].nd.a, *z0 = b + probes[0].nd.z;
    const char *a1 = b + probes[1].nd.a, *z1 = b + probes[1].nd.z;
    const __m128i f0 = first[0], l0 = lastb[0], f1 = first[1], l1 = lastb[1];
    for (; i <= last; i += 16) {
        __m128i m0 = _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(a0 + i)), f0),
                                   _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(z0 + i)), l0));
        __m128i m1 = _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(a1 + i)), f1),
                                   _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(z1 + i)), l1));
        if (_mm_movemask_epi8(_mm_or_si128(m0, m1)))
            return i;
    }
    return i;
}

static int
mark_lines_simd(const char *b, Py_ssize_t n, const Probe *probes, Py_ssize_t count, Spans *out)
{
    __m128i first[MAX_PROBES], last[MAX_PROBES];
    Py_ssize_t reach = 0; /* the furthest byte past a position that a comparison reads */
    for (Py_ssize_t k = 0; k < count; k++) {
        first[k] = _mm_set1_epi8(probes[k].nd.p[probes[k].nd.a]);
        last[k] = _mm_set1_epi8(probes[k].nd.p[probes[k].nd.z]);
        if (probes[k].nd.z > reach)
            reach = probes[k].nd.z;
    }
    Py_ssize_t i = 0;
    while (i + reach + 16 <= n) {
        unsigned masks[MAX_PROBES], any = 0;
        if (count == 2) { /* what the pre-filter asks (the mount name, the request paths): kept in registers */
            i = skip_quiet2(b, i, n - reach - 16, probes, first, last);
            if (i + reach + 16 > n)
                break;
        }
        for (Py_ssize_t k = 0; k < count; k++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + i + probes[k].nd.a));
            __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + i + probes[k].nd.z));
            masks[k] = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(x, first[k]),
                                                                 _mm_cmpeq_epi8(y, last[k])));
            any |= masks[k];
        }
        Py_ssize_t next = i + 16;
        while (any) {
            int j = __builtin_ctz(any);
            any &= any - 1;
            int hit = 0;
            for (Py_ssize_t k = 0; k < count && !hit; k++)
                hit = (masks[k] >> j & 1u) && matches(b, i + j, n, &probes[k]);
            if (hit) {
                Py_ssize_t le;
                if (push(out, b, i + j, n, &le) < 0)
                    return -1;
                next = le + 1;
                break;
            }
        }
        i = next;
    }
    for (; i < n; i++) { /* the last bytes, too few for a comparison of 16 */
        for (Py_ssize_t k = 0; k < count; k++) {
            if (matches(b, i, n, &probes[k])) {
                Py_ssize_t le;
                if (push(out, b, i, n, &le) < 0)
                    return -1;
                i = le;
                break;
            }
        }
    }
    return 0;
}
#endif

static int
mark_lines(const char *b, Py_ssize_t n, const Needle *plain, Py_ssize_t nplain, Needle prefix,
           const Needle *suffixes, Py_ssize_t nsuffixes, int simd, Spans *out)
{
#if defined(__SSE2__)
    if (simd && nplain + 1 <= MAX_PROBES) {
        Probe probes[MAX_PROBES];
        Py_ssize_t count = 0;
        for (Py_ssize_t k = 0; k < nplain; k++)
            probes[count++] = (Probe){plain[k], NULL, 0};
        if (nsuffixes > 0)
            probes[count++] = (Probe){prefix, suffixes, nsuffixes};
        return mark_lines_simd(b, n, probes, count, out);
    }
#else
    (void)simd;
#endif
    return mark_lines_memmem(b, n, plain, nplain, prefix, suffixes, nsuffixes, out);
}

PyDoc_STRVAR(mark_doc,
"mark(buf, n, plain, prefix, suffixes, simd=True) -> [(start, end), ...]\n\n"
"The lines of buf[:n] that hold one of the plain needles, or prefix followed by one of the suffixes, as\n"
"(start, end) in the order of their starts, each once (end: its newline, or n). simd=False searches with one\n"
"memmem pass per needle, as a machine without SSE2 does.");

static PyObject *
mark(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t n, nplain = 0, nsuffixes = 0;
    PyObject *plain_t, *prefix_o, *suffixes_t, *out = NULL;
    Needle *plain = NULL, *suffixes = NULL, prefix;
    Spans spans = {NULL, 0, 0};
    int simd = 1;
    if (!PyArg_ParseTuple(args, "y*nO!SO!|p", &view, &n, &PyTuple_Type, &plain_t, &prefix_o, &PyTuple_Type,
                          &suffixes_t, &simd))
        return NULL;
    if (chunk_of(&view, n) < 0 || needles_of(plain_t, &plain, &nplain) < 0 ||
        needles_of(suffixes_t, &suffixes, &nsuffixes) < 0 || needle_of(prefix_o, &prefix) < 0)
        goto done;
    if (mark_lines(view.buf, n, plain, nplain, prefix, suffixes, nsuffixes, simd, &spans) < 0)
        goto done;
    if (spans.len > 1)
        qsort(spans.v, (size_t)spans.len, sizeof(Span), by_start);
    out = PyList_New(0);
    for (Py_ssize_t k = 0; out != NULL && k < spans.len; k++) {
        if (k > 0 && spans.v[k].start == spans.v[k - 1].start)
            continue;
        PyObject *t = Py_BuildValue("(nn)", spans.v[k].start, spans.v[k].end);
        if (t == NULL || PyList_Append(out, t) < 0)
            Py_CLEAR(out);
        Py_XDECREF(t);
    }
done:
    PyMem_Free(spans.v);
    PyMem_Free(plain);
    PyMem_Free(suffixes);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"mark", mark, METH_VARARGS, mark_doc},
    {"line_stats", line_stats, METH_VARARGS, line_stats_doc},
    {"ascii", ascii, METH_VARARGS, ascii_doc},
    {"walk", walk, METH_VARARGS, walk_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "custody.auditlog._scan",
    .m_doc = "The audit reader's line walk, in C (see reader.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    return PyModule_Create(&module);
}
