/*
 * The audit reader's fold of the service's grant writes, in C: what Extractor.grant_parts and
 * Partial._add_grant_write (with request_key and time_int) do in Python, for the one kind of line that is a third to
 * a half of custody traffic. It parses nothing: it reads the fields of the record msgspec decoded (entry.Record,
 * whose types msgspec checked), builds the same tuples and adds them to the same dicts, lists and set. The Python
 * path stays and is the reference: tests/unit/test_auditlog_writes.py reads lines both ways and requires the same
 * state, on any edit of real entries.
 *
 * Anything not shaped as the Python path expects (which msgspec's types rule out) is a TypeError, never a guess.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

#define KEY_BITS 60
#define KEY_MASK ((1ULL << KEY_BITS) - 1)

/* What Extractor.fold_state holds, in this order. */
enum { S_STRS, S_WHOS, S_APPS, S_NO_RECORD, S_NO_DECISION, S_WHO, S_INFO, S_ENTRY, S_HANDED_OUT, S_REVEAL_FAILED,
       S_HMAC, S_HASHER, S_COUNT };

typedef struct {
    PyObject *strs, *whos, *apps, *no_record, *no_decision, *who_t, *info_t, *entry_t, *handed_out, *reveal_failed,
        *hmac, *hasher;
} State;

/* Attribute names, interned once. */
static PyObject *s_data, *s_event, *s_actor, *s_actor_entity, *s_grant_id, *s_account, *s_requester,
    *s_requester_entity, *s_reason, *s_ticket, *s_emergency, *s_reviewed_by, *s_denial, *s_review, *s_drill,
    *s_reveal_attempt, *s_number, *s_accessor, *s_status, *s_approvals, *s_approver, *s_approver_entity, *s_at,
    *s_comment, *s_denied_by, *s_denied_by_entity, *s_reviewed_by_entity, *s_true, *s_copy, *s_update, *s_digest,
    *s_isdigit, *s_id;

/* getattr(o, name): a msgspec Struct's field is a member descriptor of its type, read straight from its slot
 * (an eighth of the generic lookup's cost); anything else the generic way. */
static PyObject *
get(PyObject *o, PyObject *name)
{
    PyObject *d = _PyType_Lookup(Py_TYPE(o), name); /* borrowed, from the type's attribute cache */
    if (d != NULL && Py_IS_TYPE(d, &PyMemberDescr_Type))
        return PyMember_GetOne((const char *)o, ((PyMemberDescrObject *)d)->d_member);
    return PyObject_GetAttr(o, name);
}

/* getattr(o, name), which must be a str: a new reference, or NULL with TypeError. */
static PyObject *
get_str(PyObject *o, PyObject *name)
{
    PyObject *v = get(o, name);
    if (v != NULL && !PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "%U is not a string", name);
        Py_CLEAR(v);
    }
    return v;
}

/* strs.setdefault(s, s) for a new reference s: the shared copy, as a new reference (s is released). */
static PyObject *
intern_owned(const State *st, PyObject *s)
{
    if (s == NULL)
        return NULL;
    PyObject *got = PyDict_SetDefault(st->strs, s, s); /* borrowed */
    Py_XINCREF(got);
    Py_DECREF(s);
    return got;
}

static PyObject *
intern_attr(const State *st, PyObject *o, PyObject *name)
{
    return intern_owned(st, get_str(o, name));
}

/* tuple.__new__(cls, items) for a NamedTuple class (what extract._new does), without the copy of items that
 * tuple.__new__ makes on the way: the instance is allocated as tuple.__new__ allocates it (the type's tp_alloc,
 * which tracks it for the collector) and given the items. Steals items. */
static PyObject *
new_as(PyObject *cls, PyObject *items)
{
    if (items == NULL)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *o = type->tp_alloc(type, n);
    if (o != NULL)
        for (Py_ssize_t k = 0; k < n; k++)
            PyTuple_SET_ITEM(o, k, Py_NewRef(PyTuple_GET_ITEM(items, k)));
    Py_DECREF(items);
    return o;
}

/* Extractor._w: the shared Who of (entity, name), both new references here released. */
static PyObject *
who_of(const State *st, PyObject *entity, PyObject *name)
{
    PyObject *who = NULL, *key = NULL;
    if (entity == NULL || name == NULL)
        goto done;
    key = PyTuple_Pack(2, entity, name);
    if (key == NULL)
        goto done;
    who = PyDict_GetItemWithError(st->whos, key); /* borrowed */
    if (who != NULL) {
        Py_INCREF(who);
        goto done;
    }
    if (PyErr_Occurred())
        goto done;
    PyObject *e = intern_owned(st, Py_NewRef(entity)), *n = intern_owned(st, Py_NewRef(name));
    if (e == NULL || n == NULL) {
        Py_XDECREF(e);
        Py_XDECREF(n);
        goto done;
    }
    PyObject *items = PyTuple_New(2);
    if (items == NULL) {
        Py_DECREF(e);
        Py_DECREF(n);
        goto done;
    }
    PyTuple_SET_ITEM(items, 0, e);
    PyTuple_SET_ITEM(items, 1, n);
    who = new_as(st->who_t, items);
    if (who != NULL && PyDict_SetItem(st->whos, key, who) < 0)
        Py_CLEAR(who);
done:
    Py_XDECREF(key);
    Py_XDECREF(entity);
    Py_XDECREF(name);
    return who;
}

/* who_of(getattr(o, entity_attr), getattr(o, name_attr)), the second read only if the first was */
static PyObject *
who_attrs(const State *st, PyObject *o, PyObject *entity_attr, PyObject *name_attr)
{
    PyObject *entity = get_str(o, entity_attr);
    if (entity == NULL)
        return NULL;
    PyObject *name = get_str(o, name_attr);
    if (name == NULL) {
        Py_DECREF(entity);
        return NULL;
    }
    return who_of(st, entity, name);
}

/* Extractor._decision: the shared (by, entity, at, comment) of a decision object with those four attributes. */
static PyObject *
decision_of(const State *st, PyObject *d, PyObject *by_name, PyObject *entity_name)
{
    PyObject *t = PyTuple_New(4), *got = NULL;
    if (t == NULL)
        return NULL;
    PyObject *names[4] = {by_name, entity_name, s_at, s_comment};
    for (int k = 0; k < 4; k++) {
        PyObject *v = get_str(d, names[k]);
        if (v == NULL)
            goto done;
        PyTuple_SET_ITEM(t, k, v);
    }
    got = PyDict_GetItemWithError(st->apps, t);
    if (got != NULL) {
        Py_INCREF(got);
        goto done;
    }
    if (PyErr_Occurred())
        goto done;
    PyObject *shared = PyTuple_New(4);
    if (shared == NULL)
        goto done;
    for (int k = 0; k < 4; k++) {
        PyObject *v = intern_owned(st, Py_NewRef(PyTuple_GET_ITEM(t, k)));
        if (v == NULL) {
            Py_DECREF(shared);
            goto done;
        }
        PyTuple_SET_ITEM(shared, k, v);
    }
    if (PyDict_SetItem(st->apps, t, shared) < 0) {
        Py_DECREF(shared);
        goto done;
    }
    got = shared;
done:
    Py_DECREF(t);
    return got;
}

/* Extractor._denial / _review: NO_DECISION for None. */
static PyObject *
maybe_decision(const State *st, PyObject *r, PyObject *attr, PyObject *by_name, PyObject *entity_name)
{
    PyObject *d = get(r, attr);
    if (d == NULL)
        return NULL;
    PyObject *out = d == Py_None ? Py_NewRef(st->no_decision) : decision_of(st, d, by_name, entity_name);
    Py_DECREF(d);
    return out;
}

/* extract._int: an int as it is; a str of digits read as the number (int() may refuse some: ValueError, as in
 * Python); anything else the default. */
static PyObject *
int_of(PyObject *v, long dflt)
{
    if (PyLong_CheckExact(v))
        return Py_NewRef(v);
    if (!PyUnicode_Check(v))
        return PyLong_FromLong(dflt);
    PyObject *isd = PyObject_CallMethodNoArgs(v, s_isdigit);
    if (isd == NULL)
        return NULL;
    int digits = PyObject_IsTrue(isd);
    Py_DECREF(isd);
    if (digits < 0)
        return NULL;
    return digits ? PyLong_FromUnicodeObject(v, 10) : PyLong_FromLong(dflt);
}

/* Extractor._approvals: the shared decisions of a record's approvals, () if none. */
static PyObject *
approvals_of(const State *st, PyObject *r)
{
    PyObject *apps = get(r, s_approvals);
    if (apps == NULL)
        return NULL;
    if (!PyTuple_Check(apps)) {
        PyErr_SetString(PyExc_TypeError, "approvals is not a tuple");
        Py_DECREF(apps);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(apps);
    PyObject *out = PyTuple_New(n);
    for (Py_ssize_t k = 0; out != NULL && k < n; k++) {
        PyObject *d = decision_of(st, PyTuple_GET_ITEM(apps, k), s_approver, s_approver_entity);
        if (d == NULL)
            Py_CLEAR(out);
        else
            PyTuple_SET_ITEM(out, k, d);
    }
    Py_DECREF(apps);
    return out;
}

/* Extractor._grant's GrantInfo of a record. */
static PyObject *
info_of(const State *st, PyObject *r)
{
    PyObject *items = PyTuple_New(9); /* a slot left NULL on failure is skipped when the tuple is freed */
    if (items == NULL)
        return NULL;
    PyObject *v;
#define PUT(k, expr)                                                                                                   \
    if ((v = (expr)) == NULL)                                                                                          \
        goto fail;                                                                                                     \
    PyTuple_SET_ITEM(items, k, v)
    PUT(0, intern_attr(st, r, s_account));
    PUT(1, who_attrs(st, r, s_requester_entity, s_requester));
    PUT(2, get_str(r, s_reason));
    PUT(3, get_str(r, s_ticket));
    PyObject *emergency = get(r, s_emergency);
    if (emergency == NULL)
        goto fail;
    /* `emergency is True or emergency == "true"` */
    int urgent = emergency == Py_True || (PyUnicode_Check(emergency) && PyUnicode_Compare(emergency, s_true) == 0);
    Py_DECREF(emergency);
    if (PyErr_Occurred())
        goto fail;
    PUT(4, PyBool_FromLong(urgent));
    PUT(5, intern_attr(st, r, s_reviewed_by));
    PUT(6, maybe_decision(st, r, s_denial, s_denied_by, s_denied_by_entity));
    PUT(7, maybe_decision(st, r, s_review, s_reviewed_by, s_reviewed_by_entity));
    PUT(8, intern_attr(st, r, s_drill));
#undef PUT
    return new_as(st->info_t, items);
fail:
    Py_DECREF(items);
    return NULL;
}

/* partial.request_key of a response entry: BLAKE2b (8 bytes) of the UTF-8 id, its top 59 bits, the low bit 1. */
static int
request_key(const State *st, PyObject *rid, uint64_t *key)
{
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(rid, &n); /* a lone surrogate: UnicodeEncodeError, a ValueError */
    if (utf8 == NULL)
        return -1;
    PyObject *h = PyObject_CallMethodNoArgs(st->hasher, s_copy);
    if (h == NULL)
        return -1;
    PyObject *b = PyBytes_FromStringAndSize(utf8, n);
    PyObject *rc = b ? PyObject_CallMethodOneArg(h, s_update, b) : NULL;
    Py_XDECREF(b);
    PyObject *d = rc ? PyObject_CallMethodNoArgs(h, s_digest) : NULL;
    Py_XDECREF(rc);
    Py_DECREF(h);
    if (d == NULL)
        return -1;
    if (!PyBytes_Check(d) || PyBytes_GET_SIZE(d) != 8) {
        PyErr_SetString(PyExc_TypeError, "the hasher must give 8 bytes");
        Py_DECREF(d);
        return -1;
    }
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(d);
    uint64_t h64 = 0;
    for (int k = 0; k < 8; k++)
        h64 = h64 << 8 | p[k];
    Py_DECREF(d);
    *key = (h64 >> (65 - KEY_BITS)) << 1 | 1;
    return 0;
}

/* time_int(t) << KEY_BITS | key, where timeparse.time_int(t) is YYYYMMDDhhmmssnnnnnnnnn of a normalised time (0
 * if it is not one): 137 bits at most, made from three 64-bit limbs. */
static PyObject *
stamp_of(PyObject *t, uint64_t key)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(t, &n);
    if (s == NULL)
        return NULL;
    unsigned __int128 value = 0;
    if (n == 30 && PyUnicode_IS_ASCII(t)) {
        static const int at[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28};
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
            char c = s[at[k]];
            if (c < '0' || c > '9') {
                value = 0;
                break;
            }
            value = value * 10 + (unsigned)(c - '0');
        }
    }
    uint64_t lo = (uint64_t)value << KEY_BITS | key, mid = (uint64_t)(value >> (64 - KEY_BITS)),
             hi = (uint64_t)(value >> (128 - KEY_BITS));
    unsigned char be[24];
    for (int k = 0; k < 8; k++) {
        be[7 - k] = (unsigned char)(hi >> (8 * k));
        be[15 - k] = (unsigned char)(mid >> (8 * k));
        be[23 - k] = (unsigned char)(lo >> (8 * k));
    }
    return _PyLong_FromByteArray(be, sizeof be, 0, 0);
}

/* `prev_field if new == prev_field else new`, for a new reference `new` (released if the previous one is kept). */
static PyObject *
shared(PyObject *new, PyObject *prev_field)
{
    int same = PyObject_RichCompareBool(new, prev_field, Py_EQ);
    if (same < 0) {
        Py_DECREF(new);
        return NULL;
    }
    if (!same)
        return new;
    Py_DECREF(new);
    return Py_NewRef(prev_field);
}

/* partial._fold_repeat: 1 if entries hold the write e is a copy of (the later copy kept), 0 if not, -1 on error. */
static int
fold_repeat(PyObject *entries, PyObject *e, uint64_t key)
{
    Py_ssize_t n = PyList_GET_SIZE(entries);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *have = PyList_GET_ITEM(entries, i);
        if (!PyTuple_Check(have) || PyTuple_GET_SIZE(have) < 1 || !PyLong_Check(PyTuple_GET_ITEM(have, 0))) {
            PyErr_SetString(PyExc_TypeError, "a grant's timeline holds GrantEntry tuples");
            return -1;
        }
        unsigned long long low = PyLong_AsUnsignedLongLongMask(PyTuple_GET_ITEM(have, 0));
        if (low == (unsigned long long)-1 && PyErr_Occurred())
            return -1;
        if ((low & KEY_MASK) != key)
            continue;
        int later = PyObject_RichCompareBool(e, have, Py_GT);
        if (later < 0)
            return -1;
        if (later && PyList_SetItem(entries, i, Py_NewRef(e)) < 0)
            return -1;
        return 1;
    }
    return 0;
}

static int
state_of(PyObject *t, State *st)
{
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != S_COUNT) {
        PyErr_SetString(PyExc_TypeError, "state must be Extractor.fold_state");
        return -1;
    }
    PyObject **f = &st->strs;
    for (int k = 0; k < S_COUNT; k++)
        f[k] = PyTuple_GET_ITEM(t, k);
    if (!PyDict_Check(st->strs) || !PyDict_Check(st->whos) || !PyDict_Check(st->apps) ||
        !PyType_Check(st->who_t) || !PyType_Check(st->info_t) || !PyType_Check(st->entry_t) ||
        !PyType_IsSubtype((PyTypeObject *)st->who_t, &PyTuple_Type) ||
        !PyType_IsSubtype((PyTypeObject *)st->info_t, &PyTuple_Type) ||
        !PyType_IsSubtype((PyTypeObject *)st->entry_t, &PyTuple_Type) || !PyUnicode_Check(st->hmac) ||
        !PyUnicode_Check(st->handed_out) || !PyUnicode_Check(st->reveal_failed)) {
        PyErr_SetString(PyExc_TypeError, "state must be Extractor.fold_state");
        return -1;
    }
    return 0;
}

/* The record a KV write sets (request.data.data), or NO_RECORD: a new reference. */
static PyObject *
record_of(const State *st, PyObject *req)
{
    PyObject *data = get(req, s_data);
    if (data == NULL)
        return NULL;
    PyObject *r = data == Py_None ? Py_NewRef(Py_None) : get(data, s_data);
    Py_DECREF(data);
    if (r == Py_None) {
        Py_DECREF(r);
        return Py_NewRef(st->no_record);
    }
    return r;
}

/* The GrantEntry fields other than the stamp, as Extractor.grant_parts makes them: event, actor, status, approvals,
 * info, attempt number, accessor, grant id (new references in out[]). */
enum { F_EVENT, F_ACTOR, F_STATUS, F_APPROVALS, F_INFO, F_NUMBER, F_ACCESSOR, F_GRANT_ID, F_COUNT };

static int
parts_of(const State *st, PyObject *req, PyObject *rel, PyObject **out)
{
    PyObject *r = record_of(st, req), *attempt = NULL, *number = NULL;
    int rc = -1;
    if (r == NULL)
        return -1;
    if ((out[F_EVENT] = intern_attr(st, r, s_event)) == NULL ||
        (out[F_ACTOR] = who_attrs(st, r, s_actor_entity, s_actor)) == NULL ||
        (out[F_GRANT_ID] = get_str(r, s_grant_id)) == NULL)
        goto done;
    if (PyUnicode_GET_LENGTH(out[F_GRANT_ID]) == 0) { /* `r.grant_id or rel[len("grants/"):]` */
        Py_SETREF(out[F_GRANT_ID], PyUnicode_Substring(rel, 7, PY_SSIZE_T_MAX));
        if (out[F_GRANT_ID] == NULL)
            goto done;
    }
    if ((out[F_INFO] = info_of(st, r)) == NULL || (attempt = get(r, s_reveal_attempt)) == NULL)
        goto done;
    if (attempt == Py_None) {
        if ((out[F_NUMBER] = PyLong_FromLong(0)) == NULL || (out[F_ACCESSOR] = PyUnicode_FromString("")) == NULL)
            goto done;
    } else if ((number = get(attempt, s_number)) == NULL ||
               (out[F_NUMBER] = int_of(number, 0)) == NULL || (out[F_ACCESSOR] = get_str(attempt, s_accessor)) == NULL) {
        goto done;
    }
    if ((out[F_STATUS] = intern_attr(st, r, s_status)) == NULL || (out[F_APPROVALS] = approvals_of(st, r)) == NULL)
        goto done;
    rc = 0;
done:
    Py_DECREF(r);
    Py_XDECREF(attempt);
    Py_XDECREF(number);
    return rc;
}

PyDoc_STRVAR(grant_doc,
"grant(grants, hmaced, state, request, rel, time) -> None\n\n"
"Fold the service's successful write of a grant record (Extractor.plain_write found it: rel is 'grants/<id>')\n"
"into grants (grant id -> GrantEntry list) and hmaced, as Extractor.grant_parts and Partial._add_grant_write\n"
"do; state is Extractor.fold_state. Raises ValueError where they do (digits int() refuses).");

static PyObject *
grant(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyDict_Check(args[0]) || !PySet_Check(args[1]) || !PyTuple_Check(args[2]) ||
        !PyUnicode_Check(args[4]) || !PyUnicode_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "grant(grants: dict, hmaced: set, state: tuple, request, rel: str, time: str)");
        return NULL;
    }
    PyObject *grants = args[0], *hmaced = args[1], *state_t = args[2], *req = args[3], *rel = args[4], *time = args[5];
    State st;
    if (state_of(state_t, &st) < 0)
        return NULL;
    PyObject *f[F_COUNT] = {NULL}, *rid = NULL, *stamp = NULL, *entry = NULL, *handed = NULL, *result = NULL;
    if (parts_of(&st, req, rel, f) < 0)
        goto done;
    rid = get_str(req, s_id);
    uint64_t key;
    if (rid == NULL || request_key(&st, rid, &key) < 0)
        goto done;
    stamp = stamp_of(time, key);
    if (stamp == NULL)
        goto done;
    int handed_out = PyUnicode_Compare(f[F_EVENT], st.handed_out) == 0 || PyUnicode_Compare(f[F_EVENT], st.reveal_failed) == 0;
    if (PyErr_Occurred())
        goto done;
    handed = handed_out ? Py_NewRef(f[F_ACCESSOR]) : PyUnicode_FromStringAndSize("", 0);
    if (handed == NULL)
        goto done;
    PyObject *entries = PyDict_GetItemWithError(grants, f[F_GRANT_ID]); /* borrowed */
    if (entries == NULL && PyErr_Occurred())
        goto done;
    if (entries != NULL && (!PyList_Check(entries) || PyList_GET_SIZE(entries) == 0)) {
        PyErr_SetString(PyExc_TypeError, "a grant's timeline is a list of GrantEntry");
        goto done;
    }
    PyObject *approvals = Py_NewRef(f[F_APPROVALS]), *info = Py_NewRef(f[F_INFO]);
    if (entries != NULL) {
        /* consecutive writes of a grant repeat most fields: the previous entry's tuples are shared */
        PyObject *prev = PyList_GET_ITEM(entries, PyList_GET_SIZE(entries) - 1);
        if (!PyTuple_Check(prev) || PyTuple_GET_SIZE(prev) != 8) {
            PyErr_SetString(PyExc_TypeError, "a grant's timeline holds GrantEntry tuples");
            Py_DECREF(approvals);
            Py_DECREF(info);
            goto done;
        }
        approvals = shared(approvals, PyTuple_GET_ITEM(prev, 4));
        info = shared(info, PyTuple_GET_ITEM(prev, 5));
        if (approvals == NULL || info == NULL) {
            Py_XDECREF(approvals);
            Py_XDECREF(info);
            goto done;
        }
    }
    PyObject *items = PyTuple_Pack(8, stamp, f[F_EVENT], f[F_ACTOR], f[F_STATUS], approvals, info, f[F_NUMBER], handed);
    Py_DECREF(approvals);
    Py_DECREF(info);
    entry = new_as(st.entry_t, items);
    if (entry == NULL)
        goto done;
    if (entries == NULL) {
        PyObject *list = PyList_New(1);
        if (list == NULL)
            goto done;
        PyList_SET_ITEM(list, 0, Py_NewRef(entry));
        int rc = PyDict_SetItem(grants, f[F_GRANT_ID], list);
        Py_DECREF(list);
        if (rc < 0)
            goto done;
    } else {
        int repeat = fold_repeat(entries, entry, key);
        if (repeat < 0)
            goto done;
        if (repeat) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        if (PyList_Append(entries, entry) < 0)
            goto done;
    }
    int hmac = PyUnicode_Tailmatch(f[F_EVENT], st.hmac, 0, PY_SSIZE_T_MAX, -1);
    if (hmac < 0)
        goto done;
    if (hmac) {
        PyObject *k = PyLong_FromUnsignedLongLong(key);
        int rc = k ? PySet_Add(hmaced, k) : -1;
        Py_XDECREF(k);
        if (rc < 0)
            goto done;
    }
    result = Py_NewRef(Py_None);
done:
    for (int k = 0; k < F_COUNT; k++)
        Py_XDECREF(f[k]);
    Py_XDECREF(rid);
    Py_XDECREF(stamp);
    Py_XDECREF(entry);
    Py_XDECREF(handed);
    return result;
}

/* The days of a month of the proleptic Gregorian calendar (datetime.date's). */
static int
days_in(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return days[month - 1] + (month == 2 && leap);
}

static int
number(const char *s, int at, int n)
{
    int v = 0;
    for (int k = 0; k < n; k++)
        v = v * 10 + (s[at + k] - '0');
    return v;
}

PyDoc_STRVAR(vault_time_doc,
"vault_time(value) -> value or None\n\n"
"value itself when it is a time as Vault writes it (YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ, 30 ASCII characters) and a\n"
"real one in the years timeparse.norm_time accepts, which norm_time returns unchanged; None for anything else,\n"
"which norm_time must judge.");

static PyObject *
vault_time(PyObject *Py_UNUSED(self), PyObject *v)
{
    if (!PyUnicode_Check(v) || !PyUnicode_IS_ASCII(v) || PyUnicode_GET_LENGTH(v) != 30)
        Py_RETURN_NONE;
    const char *s = (const char *)PyUnicode_1BYTE_DATA(v);
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddddddZ";
    for (int k = 0; k < 30; k++)
        if (shape[k] == 'd' ? s[k] < '0' || s[k] > '9' : s[k] != shape[k])
            Py_RETURN_NONE;
    int year = number(s, 0, 4), month = number(s, 5, 2), day = number(s, 8, 2);
    if (number(s, 11, 2) >= 24 || number(s, 14, 2) >= 60 || s[17] > '5' || year < 1970 || year > 9000 ||
        month < 1 || month > 12 || day < 1 || day > days_in(year, month))
        Py_RETURN_NONE;
    return Py_NewRef(v);
}

static PyMethodDef methods[] = {
    {"vault_time", vault_time, METH_O, vault_time_doc},
    {"grant", (PyCFunction)(void (*)(void))grant, METH_FASTCALL, grant_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "custody.auditlog._fold",
    .m_doc = "The audit reader's fold of the service's grant writes, in C (see partial.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__fold(void)
{
    struct {
        PyObject **slot;
        const char *name;
    } names[] = {
        {&s_data, "data"}, {&s_event, "event"}, {&s_actor, "actor"}, {&s_actor_entity, "actor_entity"},
        {&s_grant_id, "grant_id"}, {&s_account, "account"}, {&s_requester, "requester"},
        {&s_requester_entity, "requester_entity"}, {&s_reason, "reason"}, {&s_ticket, "ticket"},
        {&s_emergency, "emergency"}, {&s_reviewed_by, "reviewed_by"}, {&s_denial, "denial"}, {&s_review, "review"},
        {&s_drill, "drill"}, {&s_reveal_attempt, "reveal_attempt"}, {&s_number, "number"},
        {&s_accessor, "accessor"}, {&s_status, "status"}, {&s_approvals, "approvals"}, {&s_approver, "approver"},
        {&s_approver_entity, "approver_entity"}, {&s_at, "at"}, {&s_comment, "comment"},
        {&s_denied_by, "denied_by"}, {&s_denied_by_entity, "denied_by_entity"},
        {&s_reviewed_by_entity, "reviewed_by_entity"}, {&s_true, "true"}, {&s_copy, "copy"},
        {&s_update, "update"}, {&s_digest, "digest"}, {&s_isdigit, "isdigit"}, {&s_id, "id"},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        *names[k].slot = PyUnicode_InternFromString(names[k].name);
        if (*names[k].slot == NULL)
            return NULL;
    }
    return PyModule_Create(&module);
}
