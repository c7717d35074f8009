/* Optional compiled part of nagare.fastcgi: the decoding of a PARAMS stream (FastCGI 1.0,
 * section 3.4), the biggest share of the protocol's CPU per request. Same results and same
 * errors as nagare.fastcgi.records.decode_pairs_python, which is used when this module is not
 * built (or NAGARE_FASTCGI_PURE=1). The error class is the caller's: decode_pairs(error, data). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
decode_pairs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "decode_pairs(error, data) takes 2 arguments");
        return NULL;
    }
    PyObject *error = args[0];
    Py_buffer view;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const unsigned char *p = (const unsigned char *)view.buf;
    Py_ssize_t end = view.len, i = 0;
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
    PyBuffer_Release(&view);
    return pairs;
cut:
    PyErr_SetString(error, "a FastCGI name-value pair length is cut by the end of its stream");
fail:
    Py_XDECREF(pairs);
    PyBuffer_Release(&view);
    return NULL;
}

static PyMethodDef methods[] = {
    {"decode_pairs", (PyCFunction)(void (*)(void))decode_pairs, METH_FASTCALL,
     "decode_pairs(error, data) -> dict: the name-value pairs of a whole PARAMS stream, latin-1"},
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
