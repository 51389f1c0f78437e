// gSOAP as one long-lived client of one SOAP service, for tests/interop/test_every_stack.py
// (tests/interop/stacks.py builds it: wsdl2h + soapcpp2 from the served WSDL, then g++ with
// the dispatch.h it generates from the operations: one branch per operation, calling the
// generated proxy method with the generated request and response classes).
//
//   gsoap_stack ENDPOINT
//
// Reads requests of four lines on stdin: the SOAP version (1.1 or 1.2), the operation,
// the HTTP Basic credentials ("user<TAB>password", or "-"), and the request wrapper element
// on one line of XML. gSOAP deserializes that element into the generated request class (in
// SOAP_XML_STRICT mode, so it must follow the schema), the proxy of that version's port
// sends it and deserializes the answer strictly into the generated response class, which
// gSOAP serializes back as XML for the test to read. Answers one JSON line:
//   {"ok":true,"status":200,"soap_version":2,"xml":"<info:GetCallDataByPinResponse ...>"}
// (soap_version: of the answer, which the server writes in the version it was asked in)
//   {"ok":false,"fault":{"code","subcode","string"},"status":500,"error":12,"www_authenticate":"..."}
// gSOAP reads a fault from HTTP 400 and 500 answers; any other status is its error code.

#include <iostream>
#include <sstream>

#include "dispatch.h"  // the proxies, the .nsmap, dispatch<Proxy>() - generated
#include "driver.h"

// The WWW-Authenticate header of the last answer, seen through gSOAP's header hook.
static std::string www_authenticate;
static int (*parse_header)(struct soap *, const char *, const char *);

static int record_header(struct soap *soap, const char *key, const char *value) {
    if (!soap_tag_cmp(key, "WWW-Authenticate"))
        www_authenticate = value;
    return parse_header(soap, key, value);
}

template <class Proxy>
static void answer(Proxy &proxy, const std::string &operation, const std::string &auth, const std::string &xml) {
    struct soap *soap = proxy.soap;
    std::string user, password;
    if (auth != "-") {
        size_t tab = auth.find('\t');
        user = auth.substr(0, tab);
        password = tab == std::string::npos ? "" : auth.substr(tab + 1);
        soap->userid = user.c_str();
        soap->passwd = password.c_str();
    } else {
        soap->userid = soap->passwd = NULL;
    }
    www_authenticate.clear();
    std::istringstream in(xml);
    std::ostringstream out;
    int status = dispatch(proxy, operation, in, out);
    if (status == UNKNOWN_OPERATION) {
        std::printf("{\"ok\":false,\"error\":-64,\"string\":\"unknown operation\"}\n");
    } else if (status == SOAP_OK) {
        std::printf("{\"ok\":true,\"status\":%d,\"soap_version\":%d,\"xml\":%s}\n", soap->status, soap->version,
                    json_string(out.str()).c_str());
    } else {
        const char **code = soap_faultcode(soap);
        const char **subcode = soap_faultsubcode(soap);
        const char **text = soap_faultstring(soap);
        bool fault = soap->error == SOAP_FAULT || soap->error == SOAP_CLI_FAULT || soap->error == SOAP_SVR_FAULT;
        std::string fault_json = fault ? "{\"code\":" + json_string(code && *code ? *code : "") +
                                             ",\"subcode\":" + json_string(subcode && *subcode ? *subcode : "") +
                                             ",\"string\":" + json_string(text && *text ? *text : "") + "}"
                                       : "null";
        // An HTTP error without a SOAP fault: gSOAP's error is the HTTP status.
        int http = fault ? soap->status : (soap->error >= 100 && soap->error < 600 ? soap->error : 0);
        std::printf("{\"ok\":false,\"fault\":%s,\"status\":%d,\"error\":%d,\"www_authenticate\":%s}\n",
                    fault_json.c_str(), http, soap->error, json_string(www_authenticate).c_str());
    }
    std::fflush(stdout);
    soap->userid = soap->passwd = NULL;
    soap_destroy(soap);
    soap_end(soap);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s ENDPOINT\n", argv[0]);
        return 64;
    }
    // Strict: reject what does not follow the schema (missing required elements, unknown
    // elements, wrong namespaces); UTF-8 strings as they are.
    soap_mode mode = SOAP_XML_STRICT | SOAP_C_UTFSTRING;
    Soap11Proxy soap11(mode);
    Soap12Proxy soap12(mode);
    use_soap11_namespaces(soap11.soap);
    parse_header = soap11.soap->fparsehdr;
    soap11.soap->fparsehdr = soap12.soap->fparsehdr = record_header;
    soap11.soap_endpoint = soap12.soap_endpoint = argv[1];
    std::string version, operation, auth, xml;
    while (std::getline(std::cin, version) && std::getline(std::cin, operation) && std::getline(std::cin, auth) &&
           std::getline(std::cin, xml)) {
        if (version == "1.1")
            answer(soap11, operation, auth, xml);
        else
            answer(soap12, operation, auth, xml);
    }
    return 0;
}
