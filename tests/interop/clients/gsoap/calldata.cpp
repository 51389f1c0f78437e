// gSOAP client of the call-data service (urn:callsuite:calldata:1, typemap prefix cd),
// compiled against the proxies wsdl2h + soapcpp2 generate from the served WSDL. The
// command line, the output and the build are driver.h's.
//
//   gsoap_client 1.1|1.2 GetCallDetails username=... password=... clientCode=... [clientCode=...]
//                [startDate=xs:dateTime] [endDate=xs:dateTime] [includeStatus=true]
//   result: {"Username":..,"ClientAddress":..,"Clients":[{"ClientCode":..,"Calls":[{"ID":..,
//            "StartTime":"...Z",...}]}]}, every optional element of a Call as null when absent.

#include "soapCallDataServiceSoapProxy.h"
#include "soapCallDataServiceSoap12Proxy.h"
#include "CallDataServiceSoap.nsmap"
#include "driver.h"

static std::string json_address(const cd__Address &a) {
    return "{\"FirstName\":" + json_string(a.FirstName) + ",\"MiddleInitial\":" + json_string(a.MiddleInitial) +
           ",\"LastName\":" + json_string(a.LastName) + ",\"StreetAddress\":" + json_string(a.StreetAddress) +
           ",\"SecondaryAddress\":" + json_string(a.SecondaryAddress) + ",\"City\":" + json_string(a.City) +
           ",\"State\":" + json_string(a.State) + ",\"ZIP\":" + json_string(a.ZIP) +
           ",\"ZIP4\":" + json_string(a.ZIP4) + "}";
}

static std::string json_call(struct soap *soap, const cd__Call &call) {
    std::string out = "{\"ID\":" + json_string(call.ID);
    out += ",\"StartTime\":" + json_date_time(soap, call.StartTime);
    out += ",\"Campaign\":" + json_value(call.Campaign);
    out += ",\"DID\":" + json_value(call.DID);
    out += ",\"ANI\":" + json_value(call.ANI);
    out += ",\"OtherData\":" + json_value(call.OtherData);
    out += ",\"InfoDigits\":" + json_value(call.InfoDigits);
    out += ",\"Target\":" + json_value(call.Target);
    out += ",\"Result\":" + json_value(call.Result);
    out += ",\"Duration\":" + json_value(call.Duration);
    out += ",\"TalkTime\":" + json_value(call.TalkTime);
    out += ",\"IndexNumber\":" + json_value(call.IndexNumber);
    out += ",\"VoiceDirectory\":" + json_value(call.VoiceDirectory);
    out += ",\"Address\":" + (call.Address ? json_address(*call.Address) : std::string("null"));
    out += ",\"ReviewedStatus\":" + json_value(call.ReviewedStatus);
    out += ",\"DTMF\":" + json_value(call.DTMF);
    out += ",\"SalesStatus\":" + json_value(call.SalesStatus);
    out += ",\"Journal\":" + json_value(call.Journal);
    return out + "}";
}

static std::string json_report(struct soap *soap, const cd__CallDetailsReport &report) {
    std::string out = "{\"Username\":" + json_string(report.Username);
    out += ",\"ClientAddress\":" + json_string(report.ClientAddress) + ",\"Clients\":[";
    // Clients and Calls are required elements: SOAP_XML_STRICT has refused an answer without them.
    for (size_t i = 0; i < report.Clients->Client.size(); ++i) {
        const cd__Client *client = report.Clients->Client[i];
        out += (i ? ",{" : "{") + std::string("\"ClientCode\":") + json_string(client->ClientCode) + ",\"Calls\":[";
        for (size_t j = 0; j < client->Calls->Call.size(); ++j)
            out += (j ? "," : "") + json_call(soap, *client->Calls->Call[j]);
        out += "]}";
    }
    return out + "]}";
}

template <class Proxy>
int call(Proxy &proxy, const std::string &operation, const Args &args) {
    struct soap *soap = proxy.soap;
    if (operation != "GetCallDetails")
        return UNKNOWN_OPERATION;
    _cd__GetCallDetails request;
    _cd__GetCallDetailsResponse response;
    request.username = required_string(args, "username");
    request.password = required_string(args, "password");
    request.clientCode = repeated_string(args, "clientCode");
    request.startDate = optional_date_time(soap, args, "startDate");
    request.endDate = optional_date_time(soap, args, "endDate");
    request.includeStatus = optional_bool(soap, args, "includeStatus");
    int status = proxy.GetCallDetails(&request, response);
    if (status == SOAP_OK)
        print_json_result(soap, response.GetCallDetailsResult != NULL,
                          response.GetCallDetailsResult ? json_report(soap, *response.GetCallDetailsResult) : "");
    return status;
}

int main(int argc, char **argv) {
    return run<CallDataServiceSoapProxy, CallDataServiceSoap12Proxy>(argc, argv);
}
