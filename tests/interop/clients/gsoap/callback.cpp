// gSOAP client of the Buzzeasy Request Callback Service (urn:callsuite:callback:1, typemap
// prefix cb), compiled against the proxies wsdl2h + soapcpp2 generate from the served
// WSDL. The command line, the output and the build are driver.h's.
//
//   gsoap_client 1.1|1.2 RequestCallWhenAvailable name=... phoneNo=... serviceQueue=1 company=1 password=...
//                        [region=..] [field1=..]
//   gsoap_client 1.1|1.2 GetAvailableTimes serviceQueue=1 company=1 password=... requestedDate=xs:dateTime
//   gsoap_client 1.1|1.2 UpdateEWTRecord serviceQueue=1 ewt=3 company=1 password=...
//   gsoap_client 1.1|1.2 GetEWTByServiceID serviceQueueID=1 companyID=1 password=...
//   result: {"ConfirmationCode":..,"ResultCode":..}, [{"TimeSlotID":..,"TimeTo":..,"TimeFrom":..,
//           "Available":..}], true/false, or the number.

#include "soapRequestCallbackServiceSoapProxy.h"
#include "soapRequestCallbackServiceSoap12Proxy.h"
#include "RequestCallbackServiceSoap.nsmap"
#include "driver.h"

static int required_int(const Args &args, const char *name) { return std::atoi(required_string(args, name).c_str()); }

static time_t required_date_time(struct soap *soap, const Args &args, const char *name) {
    time_t *value = optional_date_time(soap, args, name);
    return value ? *value : 0;
}

template <class Proxy>
int call(Proxy &proxy, const std::string &operation, const Args &args) {
    struct soap *soap = proxy.soap;
    int status;
    if (operation == "RequestCallWhenAvailable") {
        _cb__RequestCallWhenAvailable request;
        _cb__RequestCallWhenAvailableResponse response;
        request.name = required_string(args, "name");
        request.phoneNo = required_string(args, "phoneNo");
        request.serviceQueue = required_int(args, "serviceQueue");
        request.company = required_int(args, "company");
        request.password = required_string(args, "password");
        request.region = optional_string(soap, args, "region");
        request.field1 = optional_string(soap, args, "field1");
        status = proxy.RequestCallWhenAvailable(&request, response);
        if (status == SOAP_OK) {
            const cb__ResponseMessage *m = response.RequestCallWhenAvailableResult;
            print_json_result(soap, m != NULL, m ? "{\"ConfirmationCode\":" + json_string(m->ConfirmationCode) +
                                                       ",\"ResultCode\":" + std::to_string(m->ResultCode) + "}" : "");
        }
    } else if (operation == "GetAvailableTimes") {
        _cb__GetAvailableTimes request;
        _cb__GetAvailableTimesResponse response;
        request.serviceQueue = required_int(args, "serviceQueue");
        request.company = required_int(args, "company");
        request.password = required_string(args, "password");
        request.requestedDate = required_date_time(soap, args, "requestedDate");
        status = proxy.GetAvailableTimes(&request, response);
        if (status == SOAP_OK) {
            std::string out = "[";
            const cb__ArrayOfTimeSlot *slots = response.GetAvailableTimesResult;
            for (size_t i = 0; slots && i < slots->TimeSlot.size(); ++i) {
                const cb__TimeSlot *s = slots->TimeSlot[i];
                out += (i ? ",{" : "{") + std::string("\"TimeSlotID\":") + std::to_string(s->TimeSlotID) +
                       ",\"TimeTo\":" + json_string(s->TimeTo) + ",\"TimeFrom\":" + json_string(s->TimeFrom) +
                       ",\"Available\":" + (s->Available ? "true" : "false") + "}";
            }
            print_json_result(soap, slots != NULL, out + "]");
        }
    } else if (operation == "UpdateEWTRecord") {
        _cb__UpdateEWTRecord request;
        _cb__UpdateEWTRecordResponse response;
        request.serviceQueue = required_int(args, "serviceQueue");
        request.ewt = required_int(args, "ewt");
        request.company = required_int(args, "company");
        request.password = required_string(args, "password");
        status = proxy.UpdateEWTRecord(&request, response);
        if (status == SOAP_OK) print_json_result(soap, true, response.UpdateEWTRecordResult ? "true" : "false");
    } else if (operation == "GetEWTByServiceID") {
        _cb__GetEWTByServiceID request;
        _cb__GetEWTByServiceIDResponse response;
        request.serviceQueueID = required_int(args, "serviceQueueID");
        request.companyID = required_int(args, "companyID");
        request.password = required_string(args, "password");
        status = proxy.GetEWTByServiceID(&request, response);
        if (status == SOAP_OK) print_json_result(soap, true, std::to_string(response.GetEWTByServiceIDResult));
    } else {
        return UNKNOWN_OPERATION;
    }
    return status;
}

int main(int argc, char **argv) {
    return run<RequestCallbackServiceSoapProxy, RequestCallbackServiceSoap12Proxy>(argc, argv);
}
