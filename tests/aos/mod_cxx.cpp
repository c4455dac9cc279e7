// tests/aos/mod_cxx.cpp: an aos-style test process in C++ built with
// -fwasm-exceptions: handle() throws and catches C++ exceptions.
#include <emscripten.h>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

static std::string out;
static int handled;

static void check(const std::string &data)
{
    if (data.find("throw") == 0)
        throw std::runtime_error("bad input: " + data);
}

extern "C" EMSCRIPTEN_KEEPALIVE const char *handle(const char *msg, const char *env)
{
    std::string m(msg), data;
    size_t p = m.find("\"Data\":\"");
    if (p != std::string::npos) {
        p += 8;
        data = m.substr(p, m.find('"', p) - p);
    }
    if (data == "uncaught")
        throw 7;                                   // escapes handle(): an error result
    try {
        check(data);
        handled++;
        out = "{\"ok\":true,\"response\":{\"Output\":{\"data\":\"ok " + std::to_string(handled) + "\"}}}";
    } catch (const std::exception &e) {
        out = std::string("{\"ok\":true,\"response\":{\"Output\":{\"data\":\"caught ") + e.what() + "\"}}}";
    }
    return out.c_str();
}
