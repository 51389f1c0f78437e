// A gSOAP client of the recording service, compiled against the proxies that
// wsdl2h + soapcpp2 generate from the WSDL the running server serves (see
// tests/interop/test_gsoap.py, which builds it in pytest's tmp_path):
//
//   wsdl2h -Nsvc -t typemap.dat -o recording.h  {base}/soap/recording?wsdl
//   soapcpp2 -j -C -x -I/usr/share/gsoap/import recording.h
//   g++ gsoap_client.cpp soapC.cpp soapRecordingServiceSoapProxy.cpp
//       soapRecordingServiceSoap12Proxy.cpp -lgsoap++
//
// typemap.dat binds the schema prefix `rec` to urn:callsuite:recording:1, so the
// generated element classes are _rec__AddLink, _rec__AddLinkResponse, ...
//
// Usage: gsoap_client SOAP_VERSION OPERATION [name=value ...]
//   SOAP_VERSION 1.1 uses the proxy of the WSDL's SOAP 1.1 port (RecordingServiceSoap),
//   1.2 the proxy of its SOAP 1.2 port (RecordingServiceSoap12). No endpoint is given:
//   each proxy calls the address the served WSDL declares for its port.
//
// Prints one JSON object:
//   {"ok":true,"soap_version":1,"present":true,"result":"..."}
//   {"ok":false,"soap_version":2,"error":12,"code":"...","string":"..."}
// Exit status: 0 for an answer (a SOAP fault is an answer), 3 for a transport or
// parsing error (gSOAP's own diagnostics then follow on stderr), 64 for bad usage.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "soapRecordingServiceSoapProxy.h"
#include "soapRecordingServiceSoap12Proxy.h"
#include "RecordingServiceSoap.nsmap"

typedef std::map<std::string, std::string> Args;

static std::string json_string(const std::string &s) {
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

static std::string *optional_string(struct soap *soap, const Args &args, const char *name) {
    Args::const_iterator it = args.find(name);
    if (it == args.end())
        return NULL;
    std::string *value = soap_new_std__string(soap);
    *value = it->second;
    return value;
}

static bool *optional_bool(struct soap *soap, const Args &args, const char *name) {
    Args::const_iterator it = args.find(name);
    if (it == args.end())
        return NULL;
    bool *value = static_cast<bool *>(soap_malloc(soap, sizeof(bool)));
    *value = it->second == "true" || it->second == "1";
    return value;
}

static std::string required_string(const Args &args, const char *name) {
    Args::const_iterator it = args.find(name);
    return it == args.end() ? std::string() : it->second;
}

static void print_result(struct soap *soap, const std::string *result) {
    std::printf("{\"ok\":true,\"soap_version\":%d,\"present\":%s,\"result\":%s}\n", soap->version,
                result ? "true" : "false", result ? json_string(*result).c_str() : "null");
}

static int print_error(struct soap *soap) {
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
static int call(Proxy &proxy, const std::string &operation, const Args &args) {
    struct soap *soap = proxy.soap;
    int status;
    if (operation == "AddLink") {
        _rec__AddLink request;
        _rec__AddLinkResponse response;
        request.id = required_string(args, "id");
        request.type = optional_string(soap, args, "type");
        request.data1 = optional_string(soap, args, "data1");
        request.data2 = optional_string(soap, args, "data2");
        request.data3 = optional_string(soap, args, "data3");
        request.data4 = optional_string(soap, args, "data4");
        request.data5 = optional_string(soap, args, "data5");
        request.host = optional_string(soap, args, "host");
        request.activeCall = optional_bool(soap, args, "activeCall");
        status = proxy.AddLink(&request, response);
        if (status == SOAP_OK) print_result(soap, response.AddLinkResult);
    } else if (operation == "GetRecordingInfo") {
        _rec__GetRecordingInfo request;
        _rec__GetRecordingInfoResponse response;
        request.refNum = required_string(args, "refNum");
        status = proxy.GetRecordingInfo(&request, response);
        if (status == SOAP_OK) {
            std::string ref = response.GetRecordingInfoResult ? response.GetRecordingInfoResult->ReferenceNumber : "";
            print_result(soap, response.GetRecordingInfoResult ? &ref : NULL);
        }
    } else if (operation == "RetrieveRecFile") {
        _rec__RetrieveRecFile request;
        _rec__RetrieveRecFileResponse response;
        request.sExtension = required_string(args, "sExtension");
        request.sPhoneNumber = optional_string(soap, args, "sPhoneNumber");
        request.dtCallDateTime = required_string(args, "dtCallDateTime");
        request.bDeletionProtected = optional_bool(soap, args, "bDeletionProtected");
        status = proxy.RetrieveRecFile(&request, response);
        if (status == SOAP_OK) print_result(soap, &response.RetrieveRecFileResult);
    } else if (operation == "PlayByPhone") {
        _rec__PlayByPhone request;
        _rec__PlayByPhoneResponse response;
        request.refNum = required_string(args, "refNum");
        request.phoneNumber = required_string(args, "phoneNumber");
        status = proxy.PlayByPhone(&request, response);
        if (status == SOAP_OK) print_result(soap, &response.PlayByPhoneResult);
    } else if (operation == "LinkRecording") {
        _rec__LinkRecording request;
        _rec__LinkRecordingResponse response;
        request.activityId = required_string(args, "activityId");
        request.refNum = required_string(args, "refNum");
        status = proxy.LinkRecording(&request, response);
        if (status == SOAP_OK) {
            std::string state = response.LinkRecordingResult ? response.LinkRecordingResult->State : "";
            print_result(soap, response.LinkRecordingResult ? &state : NULL);
        }
    } else {
        std::fprintf(stderr, "unknown operation %s\n", operation.c_str());
        return 64;
    }
    return status == SOAP_OK ? 0 : print_error(soap);
}

int main(int argc, char **argv) {
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
        args[std::string(argv[i], eq - argv[i])] = eq + 1;
    }
    // Strict: reject responses that do not follow the schema (missing required
    // elements, unknown elements, wrong namespaces); UTF-8 strings as they are.
    soap_mode mode = SOAP_XML_STRICT | SOAP_C_UTFSTRING;
    int status;
    if (version == "1.1") {
        RecordingServiceSoapProxy proxy(mode);
        // wsdl2h generates one namespace table for both bindings, with the SOAP 1.2
        // envelope as the default because the WSDL also offers SOAP 1.2 (gSOAP sets the
        // version from that table on every call, so soap_set_version alone does not
        // stick). The SOAP 1.1 port is called with the same table, SOAP 1.1 first.
        static struct Namespace soap11_namespaces[sizeof namespaces / sizeof namespaces[0]];
        for (size_t i = 0; i < sizeof namespaces / sizeof namespaces[0]; ++i) {
            soap11_namespaces[i] = namespaces[i];
            if (namespaces[i].id && !std::strcmp(namespaces[i].id, "SOAP-ENV"))
                soap11_namespaces[i].ns = "http://schemas.xmlsoap.org/soap/envelope/";
            else if (namespaces[i].id && !std::strcmp(namespaces[i].id, "SOAP-ENC"))
                soap11_namespaces[i].ns = "http://schemas.xmlsoap.org/soap/encoding/";
        }
        soap_set_namespaces(proxy.soap, soap11_namespaces);
        status = call(proxy, operation, args);
        proxy.destroy();
    } else if (version == "1.2") {
        RecordingServiceSoap12Proxy proxy(mode);
        status = call(proxy, operation, args);
        proxy.destroy();
    } else {
        std::fprintf(stderr, "SOAP version must be 1.1 or 1.2\n");
        return 64;
    }
    return status;
}
