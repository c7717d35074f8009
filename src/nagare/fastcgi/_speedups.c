/* Optional compiled part of nagare.fastcgi: the decoding of a PARAMS stream (FastCGI 1.0,
 * section 3.4) and the reading of a whole ordinary request, the biggest shares of the protocol's
 * CPU per request. Same results and same errors as nagare.fastcgi.records.decode_pairs_python
 * and split_request_python, which are used when this module is not built (or
 * NAGARE_FASTCGI_PURE=1). The error class is the caller's: decode_pairs(error, data). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The pairs of the stream p[0:end] as a new dict; NULL with `error` (or another exception) set. */
static PyObject *
decode(PyObject *error, const unsigned char *p, Py_ssize_t end)
{
    Py_ssize_t i = 0;
    PyObject *pairs = PyDict_New();
    if (pairs == NULL)
        goto fail;
    while (i < end) {
        Py_ssize_t lengths[2];
        for (int k = 0; k < 2; k++) {
            if (i >= end)
                goto cut;
            if (p[i] & 0x80) {
                if (end - i < 4)
                    goto cut;
                lengths[k] = ((Py_ssize_t)(p[i] & 0x7f) << 24) | ((Py_ssize_t)p[i + 1] << 16)
                             | ((Py_ssize_t)p[i + 2] << 8) | (Py_ssize_t)p[i + 3];
                i += 4;
            }
            else {
                lengths[k] = p[i];
                i += 1;
            }
        }
        Py_ssize_t middle = i + lengths[0], stop = middle + lengths[1];
        if (stop > end) {
            PyErr_Format(error, "a FastCGI name-value pair runs %zd bytes past the end of its stream", stop - end);
            goto fail;
        }
        PyObject *name = PyUnicode_DecodeLatin1((const char *)p + i, lengths[0], NULL);
        if (name == NULL)
            goto fail;
        PyObject *value = PyUnicode_DecodeLatin1((const char *)p + middle, lengths[1], NULL);
        if (value == NULL) {
            Py_DECREF(name);
            goto fail;
        }
        int failed = PyDict_SetItem(pairs, name, value);
        Py_DECREF(name);
        Py_DECREF(value);
        if (failed < 0)
            goto fail;
        i = stop;
    }
    return pairs;
cut:
    PyErr_SetString(error, "a FastCGI name-value pair length is cut by the end of its stream");
fail:
    Py_XDECREF(pairs);
    return NULL;
}

static PyObject *
decode_pairs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "decode_pairs(error, data) takes 2 arguments");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *pairs = decode(args[0], (const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return pairs;
}

/* FastCGI 1.0 numbers (section 8) */
#define HEADER_SIZE 8
#define VERSION 1
#define BEGIN_REQUEST 1
#define PARAMS 4
#define STDIN 5
#define RESPONDER 1
#define KEEP_CONN 1

typedef struct {
    int type, request_id;
    Py_ssize_t start, length, next; /* content at start, the next record at next */
} record;

/* The record at p[i:end]: 0 if its header or its content is not all there, or not of version 1. */
static int
read_record(const unsigned char *p, Py_ssize_t i, Py_ssize_t end, record *r)
{
    if (end - i < HEADER_SIZE || p[i] != VERSION)
        return 0;
    r->type = p[i + 1];
    r->request_id = (p[i + 2] << 8) | p[i + 3];
    r->length = (p[i + 4] << 8) | p[i + 5];
    r->start = i + HEADER_SIZE;
    r->next = r->start + r->length + p[i + 6];
    return r->next <= end;
}

static PyObject *
split_request(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "split_request(data, offset, max_params_size) takes 3 arguments");
        return NULL;
    }
    Py_ssize_t offset = PyLong_AsSsize_t(args[1]);
    if (offset == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t max_params = PyLong_AsSsize_t(args[2]);
    if (max_params == -1 && PyErr_Occurred())
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *p = (const unsigned char *)view.buf;
    Py_ssize_t end = view.len;
    PyObject *result = NULL, *params = NULL, *body = NULL;
    record r;
    if (offset < 0 || !read_record(p, offset, end, &r) || r.type != BEGIN_REQUEST || r.request_id == 0
        || r.length != 8 || ((p[r.start] << 8) | p[r.start + 1]) != RESPONDER)
        goto none;
    int request_id = r.request_id, keep_conn = p[r.start + 2] & KEEP_CONN;
    Py_ssize_t i = r.next, size = 0, first = 0, count = 0;
    for (;;) {
        if (!read_record(p, i, end, &r) || r.type != PARAMS || r.request_id != request_id)
            goto none;
        i = r.next;
        if (r.length == 0)
            break;
        size += r.length;
        if (size > max_params)
            goto none;
        if (count++ == 0)
            first = r.start;
    }
    if (count == 1) {
        params = decode(PyExc_ValueError, p + first, size);
    }
    else if (count > 1) { /* params above 64 KB: the contents joined */
        unsigned char *joined = PyMem_Malloc(size);
        if (joined == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t j, at = 0;
        read_record(p, offset, end, &r); /* the BEGIN_REQUEST again, then its PARAMS records */
        for (j = r.next; read_record(p, j, end, &r) && r.length; j = r.next) {
            memcpy(joined + at, p + r.start, r.length);
            at += r.length;
        }
        params = decode(PyExc_ValueError, joined, size);
        PyMem_Free(joined);
    }
    else {
        params = PyDict_New();
    }
    if (params == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError))
            goto done;
        PyErr_Clear(); /* malformed pairs: the record-by-record reading says what is wrong */
        goto none;
    }
    Py_ssize_t after_params = i, body_size = 0;
    int complete = 0;
    for (;;) {
        if (!read_record(p, i, end, &r) || r.type != STDIN || r.request_id != request_id)
            break;
        i = r.next;
        if (r.length == 0) {
            complete = 1;
            break;
        }
        body_size += r.length;
    }
    if (complete) {
        body = PyBytes_FromStringAndSize(NULL, body_size);
        if (body == NULL)
            goto done;
        char *out = PyBytes_AS_STRING(body);
        Py_ssize_t j;
        for (j = after_params; read_record(p, j, end, &r) && r.length; j = r.next) {
            memcpy(out, p + r.start, r.length);
            out += r.length;
        }
        result = Py_BuildValue("(iOOOn)", request_id, keep_conn ? Py_True : Py_False, params, body, i);
    }
    else {
        result = Py_BuildValue("(iOOOn)", request_id, keep_conn ? Py_True : Py_False, params, Py_None, after_params);
    }
    goto done;
none:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(params);
    Py_XDECREF(body);
    PyBuffer_Release(&view);
    return result;
}

#define STDOUT 6
#define STDERR 7
#define END_REQUEST 3
#define CHUNK 65528 /* the largest multiple of 8 a record holds: full records need no padding */

static char *
put_header(char *out, int type, int request_id, Py_ssize_t length, int padding)
{
    out[0] = VERSION;
    out[1] = (char)type;
    out[2] = (char)(request_id >> 8);
    out[3] = (char)request_id;
    out[4] = (char)(length >> 8);
    out[5] = (char)length;
    out[6] = (char)padding;
    out[7] = 0;
    return out + HEADER_SIZE;
}

/* The bytes of `data` as records of a stream, without its closing empty record. */
static Py_ssize_t
stream_size(Py_ssize_t length)
{
    Py_ssize_t full = length / CHUNK, rest = length % CHUNK;
    return full * (HEADER_SIZE + CHUNK) + (rest ? HEADER_SIZE + rest + (-rest & 7) : 0);
}

static char *
put_stream(char *out, int type, int request_id, const char *data, Py_ssize_t length)
{
    while (length > 0) {
        Py_ssize_t size = length < CHUNK ? length : CHUNK;
        int padding = (int)(-size & 7);
        out = put_header(out, type, request_id, size, padding);
        memcpy(out, data, size);
        memset(out + size, 0, padding);
        out += size + padding;
        data += size;
        length -= size;
    }
    return out;
}

static PyObject *
encode_end(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "encode_end(request_id, stdout, stderr, stderr_open, app_status, protocol_status) takes 6 arguments");
        return NULL;
    }
    long request_id = PyLong_AsLong(args[0]);
    if (request_id == -1 && PyErr_Occurred())
        return NULL;
    if (request_id < 0 || request_id > 0xFFFF) {
        PyErr_SetString(PyExc_OverflowError, "a request id is a 16-bit number");
        return NULL;
    }
    int stderr_open = PyObject_IsTrue(args[3]);
    if (stderr_open < 0)
        return NULL;
    unsigned long app_status = PyLong_AsUnsignedLongMask(args[4]); /* wrapped as C would */
    if (app_status == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    long protocol_status = PyLong_AsLong(args[5]);
    if (protocol_status == -1 && PyErr_Occurred())
        return NULL;
    Py_buffer out_view, err_view;
    if (PyObject_GetBuffer(args[1], &out_view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[2], &err_view, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&out_view);
        return NULL;
    }
    int close_stderr = err_view.len > 0 || stderr_open;
    Py_ssize_t size = stream_size(out_view.len) + stream_size(err_view.len) + HEADER_SIZE * (close_stderr ? 3 : 2) + 8;
    PyObject *result = PyBytes_FromStringAndSize(NULL, size);
    if (result != NULL) {
        char *out = PyBytes_AS_STRING(result);
        out = put_stream(out, STDOUT, (int)request_id, out_view.buf, out_view.len);
        out = put_stream(out, STDERR, (int)request_id, err_view.buf, err_view.len);
        out = put_header(out, STDOUT, (int)request_id, 0, 0);
        if (close_stderr)
            out = put_header(out, STDERR, (int)request_id, 0, 0);
        out = put_header(out, END_REQUEST, (int)request_id, 8, 0);
        uint32_t status = (uint32_t)(app_status & 0xFFFFFFFFUL);
        out[0] = (char)(status >> 24);
        out[1] = (char)(status >> 16);
        out[2] = (char)(status >> 8);
        out[3] = (char)status;
        out[4] = (char)protocol_status;
        memset(out + 5, 0, 3);
    }
    PyBuffer_Release(&out_view);
    PyBuffer_Release(&err_view);
    return result;
}

static PyMethodDef methods[] = {
    {"decode_pairs", (PyCFunction)(void (*)(void))decode_pairs, METH_FASTCALL,
     "decode_pairs(error, data) -> dict: the name-value pairs of a whole PARAMS stream, latin-1"},
    {"split_request", (PyCFunction)(void (*)(void))split_request, METH_FASTCALL,
     "split_request(data, offset, max_params_size) -> (request id, keep_conn, params, body or None, offset) or None"},
    {"encode_end", (PyCFunction)(void (*)(void))encode_end, METH_FASTCALL,
     "encode_end(request_id, stdout, stderr, stderr_open, app_status, protocol_status) -> bytes: the last records of a request"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "nagare.fastcgi._speedups", "Optional compiled part of nagare.fastcgi.", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
