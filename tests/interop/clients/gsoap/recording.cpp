// gSOAP client of the recording service (urn:callsuite:recording:1, typemap prefix rec),
// compiled against the proxies wsdl2h + soapcpp2 generate from the served WSDL. The
// command line, the output and the build are driver.h's.
//
//   gsoap_client 1.1|1.2 AddLink id=... [host=...] [activeCall=true] ...
//   result: the operation's string result (GetRecordingInfo: the ReferenceNumber,
//   LinkRecording: the State), null when the result element is absent.

#include "soapRecordingServiceSoapProxy.h"
#include "soapRecordingServiceSoap12Proxy.h"
#include "RecordingServiceSoap.nsmap"
#include "driver.h"

template <class Proxy>
int call(Proxy &proxy, const std::string &operation, const Args &args) {
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
        if (status == SOAP_OK)
            print_result(soap, response.GetRecordingInfoResult ? &response.GetRecordingInfoResult->ReferenceNumber : NULL);
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
        if (status == SOAP_OK)
            print_result(soap, response.LinkRecordingResult ? &response.LinkRecordingResult->State : NULL);
    } else {
        return UNKNOWN_OPERATION;
    }
    return status;
}

int main(int argc, char **argv) {
    return run<RecordingServiceSoapProxy, RecordingServiceSoap12Proxy>(argc, argv);
}
