// The part of the gSOAP interop clients that every service shares (see
// tests/interop/test_gsoap.py, which builds one client per service in pytest's tmp_path):
//
//   wsdl2h -Nsvc -t typemap.dat -o SERVICE.h  {base}/soap/SERVICE?wsdl
//   soapcpp2 -j -C -x -I/usr/share/gsoap/import SERVICE.h
//   g++ -I. -Itests/interop/clients/gsoap tests/interop/clients/gsoap/SERVICE.cpp soapC.cpp
//       soap<Port>Proxy.cpp soap<Port12>Proxy.cpp -lgsoap++
//
// typemap.dat binds a fixed prefix to the service's schema namespace (rec for
// urn:callsuite:recording:1, cd for urn:callsuite:calldata:1), so the generated element
// classes are _rec__AddLink, _cd__GetCallDetails, ...
//
// A service's client (recording.cpp, calldata.cpp) includes its two generated proxies and
// its namespace table, then this file, defines
//
//   template <class Proxy> int call(Proxy &proxy, const std::string &operation, const Args &args);
//
// (build the request from args, call the operation, print_result the answer on success;
// return gSOAP's status, or UNKNOWN_OPERATION) and has main() return
// run<Soap11Proxy, Soap12Proxy>(argc, argv).
//
// Usage: gsoap_client SOAP_VERSION OPERATION [name=value ...]
//   A name may be repeated (an element with maxOccurs > 1). SOAP_VERSION 1.1 uses the
//   proxy of the WSDL's SOAP 1.1 port, 1.2 the proxy of its SOAP 1.2 port. No endpoint
//   is given: each proxy calls the address the served WSDL declares for its port.
//
// Prints one JSON object:
//   {"ok":true,"soap_version":1,"present":true,"result":<JSON value>}
//   {"ok":false,"fault":true,"soap_version":2,"error":12,"code":"...","subcode":"...","string":"..."}
// Exit status: 0 for an answer (a SOAP fault is an answer), 3 for a transport or
// parsing error (gSOAP's own diagnostics then follow on stderr), 64 for bad usage.
#ifndef CALLSUITE_GSOAP_DRIVER_H
#define CALLSUITE_GSOAP_DRIVER_H

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

typedef std::multimap<std::string, std::string> Args;
static const int UNKNOWN_OPERATION = -64;

template <class Proxy>
int call(Proxy &proxy, const std::string &operation, const Args &args);

static inline std::string json_string(const std::string &s) {
    std::string out = "\"";
    for (std::string::const_iterator it = s.begin(); it != s.end(); ++it) {
        unsigned char c = static_cast<unsigned char>(*it);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

// JSON for an optional element: null when absent.
static inline std::string json_value(const std::string *s) { return s ? json_string(*s) : "null"; }

static inline std::string json_value(const int *i) {
    if (!i)
        return "null";
    std::ostringstream out;
    out << *i;
    return out.str();
}

// xs:dateTime in UTC, as gSOAP writes it ("2026-01-05T15:00:00Z").
static inline std::string json_date_time(struct soap *soap, time_t t) { return json_string(soap_dateTime2s(soap, t)); }

static inline bool has(const Args &args, const char *name) { return args.find(name) != args.end(); }

static inline std::string required_string(const Args &args, const char *name) {
    Args::const_iterator it = args.find(name);
    return it == args.end() ? std::string() : it->second;
}

static inline std::vector<std::string> repeated_string(const Args &args, const char *name) {
    std::vector<std::string> values;
    std::pair<Args::const_iterator, Args::const_iterator> range = args.equal_range(name);
    for (Args::const_iterator it = range.first; it != range.second; ++it)
        values.push_back(it->second);
    return values;
}

static inline std::string *optional_string(struct soap *soap, const Args &args, const char *name) {
    if (!has(args, name))
        return NULL;
    std::string *value = soap_new_std__string(soap);
    *value = required_string(args, name);
    return value;
}

static inline bool *optional_bool(struct soap *soap, const Args &args, const char *name) {
    if (!has(args, name))
        return NULL;
    bool *value = static_cast<bool *>(soap_malloc(soap, sizeof(bool)));
    std::string text = required_string(args, name);
    *value = text == "true" || text == "1";
    return value;
}

// xs:dateTime given as text, parsed by gSOAP itself (so the request carries gSOAP's own
// serialization of it). Exits with 64 when gSOAP cannot read it.
static inline time_t *optional_date_time(struct soap *soap, const Args &args, const char *name) {
    if (!has(args, name))
        return NULL;
    time_t *value = static_cast<time_t *>(soap_malloc(soap, sizeof(time_t)));
    if (soap_s2dateTime(soap, required_string(args, name).c_str(), value) != SOAP_OK) {
        std::fprintf(stderr, "%s is not an xs:dateTime\n", name);
        std::exit(64);
    }
    return value;
}

// present=false prints "result":null (an absent or nil result element).
static inline void print_json_result(struct soap *soap, bool present, const std::string &json) {
    std::printf("{\"ok\":true,\"soap_version\":%d,\"present\":%s,\"result\":%s}\n", soap->version,
                present ? "true" : "false", present ? json.c_str() : "null");
}

static inline void print_result(struct soap *soap, const std::string *result) {
    print_json_result(soap, result != NULL, json_value(result));
}

static inline int print_error(struct soap *soap) {
    const char **code = soap_faultcode(soap);
    const char **subcode = soap_faultsubcode(soap);
    const char **text = soap_faultstring(soap);
    bool fault = soap->error == SOAP_FAULT || soap->error == SOAP_CLI_FAULT || soap->error == SOAP_SVR_FAULT;
    std::printf("{\"ok\":false,\"fault\":%s,\"soap_version\":%d,\"error\":%d,\"code\":%s,\"subcode\":%s,\"string\":%s}\n",
                fault ? "true" : "false", soap->version, soap->error,
                json_string(code && *code ? *code : "").c_str(),
                json_string(subcode && *subcode ? *subcode : "").c_str(),
                json_string(text && *text ? *text : "").c_str());
    if (!fault) {
        soap_print_fault(soap, stderr);
        soap_print_fault_location(soap, stderr);
        return 3;
    }
    return 0;
}

template <class Proxy>
static inline int call_and_report(Proxy &proxy, const std::string &operation, const Args &args) {
    int status = call(proxy, operation, args);
    int exit_status = 0;
    if (status == UNKNOWN_OPERATION) {
        std::fprintf(stderr, "unknown operation %s\n", operation.c_str());
        exit_status = 64;
    } else if (status != SOAP_OK) {
        exit_status = print_error(proxy.soap);
    }
    proxy.destroy();
    return exit_status;
}

// wsdl2h generates one namespace table for both bindings, with the SOAP 1.2 envelope as
// the default because the WSDL also offers SOAP 1.2 (gSOAP sets the version from that
// table on every call, so soap_set_version alone does not stick). The SOAP 1.1 port is
// called with the same table, SOAP 1.1 first. `namespaces` is the table of the service's
// .nsmap, included before this file.
static inline void use_soap11_namespaces(struct soap *soap) {
    static struct Namespace soap11_namespaces[sizeof namespaces / sizeof namespaces[0]];
    for (size_t i = 0; i < sizeof namespaces / sizeof namespaces[0]; ++i) {
        soap11_namespaces[i] = namespaces[i];
        if (namespaces[i].id && !std::strcmp(namespaces[i].id, "SOAP-ENV"))
            soap11_namespaces[i].ns = "http://schemas.xmlsoap.org/soap/envelope/";
        else if (namespaces[i].id && !std::strcmp(namespaces[i].id, "SOAP-ENC"))
            soap11_namespaces[i].ns = "http://schemas.xmlsoap.org/soap/encoding/";
    }
    soap_set_namespaces(soap, soap11_namespaces);
}

template <class Soap11Proxy, class Soap12Proxy>
int run(int argc, char **argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s 1.1|1.2 OPERATION [name=value ...]\n", argv[0]);
        return 64;
    }
    std::string version = argv[1], operation = argv[2];
    Args args;
    for (int i = 3; i < argc; ++i) {
        const char *eq = std::strchr(argv[i], '=');
        if (!eq) {
            std::fprintf(stderr, "argument %s is not name=value\n", argv[i]);
            return 64;
        }
        args.insert(Args::value_type(std::string(argv[i], eq - argv[i]), eq + 1));
    }
    // Strict: reject responses that do not follow the schema (missing required
    // elements, unknown elements, wrong namespaces); UTF-8 strings as they are.
    soap_mode mode = SOAP_XML_STRICT | SOAP_C_UTFSTRING;
    int status;
    if (version == "1.1") {
        Soap11Proxy proxy(mode);
        use_soap11_namespaces(proxy.soap);
        status = call_and_report(proxy, operation, args);
    } else if (version == "1.2") {
        Soap12Proxy proxy(mode);
        status = call_and_report(proxy, operation, args);
    } else {
        std::fprintf(stderr, "SOAP version must be 1.1 or 1.2\n");
        return 64;
    }
    return status;
}

#endif
