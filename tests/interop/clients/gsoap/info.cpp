// gSOAP client of BuzzMeInfo (urn:callsuite:info:1, typemap prefix info), compiled against
// the proxies wsdl2h + soapcpp2 generate from the served WSDL; driver.h does the rest.
//
//   gsoap_client 1.1|1.2 GetCallDataByPin pin=... companyId=1 password=...
//   gsoap_client 1.1|1.2 GetCallDataByNumber presentedNumber=... companyId=1 password=...
//   result: the CallData's ConfirmationCode, the queue (serviceQueue or serviceQueueName),
//           field1 and the time, or null when no request matched.

#include "soapBuzzMeInfoSoapProxy.h"
#include "soapBuzzMeInfoSoap12Proxy.h"
#include "BuzzMeInfoSoap.nsmap"
#include "driver.h"

template <class Proxy>
int call(Proxy &proxy, const std::string &operation, const Args &args) {
    struct soap *soap = proxy.soap;
    int status;
    int company = std::atoi(required_string(args, "companyId").c_str());
    if (operation == "GetCallDataByPin") {
        _info__GetCallDataByPin request;
        _info__GetCallDataByPinResponse response;
        request.pin = required_string(args, "pin");
        request.companyId = company;
        request.password = required_string(args, "password");
        status = proxy.GetCallDataByPin(&request, response);
        if (status == SOAP_OK) {
            const info__PinCallData *d = response.GetCallDataByPinResult;
            print_json_result(soap, d != NULL, d ? "{\"ConfirmationCode\":" + json_string(d->ConfirmationCode) +
                                                       ",\"serviceQueue\":" + std::to_string(d->serviceQueue) +
                                                       ",\"field1\":" + json_value(d->field1) +
                                                       ",\"TimeCalled\":" + json_string(d->TimeCalled) + "}" : "");
        }
    } else if (operation == "GetCallDataByNumber") {
        _info__GetCallDataByNumber request;
        _info__GetCallDataByNumberResponse response;
        request.presentedNumber = required_string(args, "presentedNumber");
        request.companyId = company;
        request.password = required_string(args, "password");
        status = proxy.GetCallDataByNumber(&request, response);
        if (status == SOAP_OK) {
            const info__CallData *d = response.GetCallDataByNumberResult;
            print_json_result(soap, d != NULL, d ? "{\"ConfirmationCode\":" + json_string(d->ConfirmationCode) +
                                                       ",\"serviceQueueName\":" + json_string(d->serviceQueueName) +
                                                       ",\"field1\":" + json_value(d->field1) +
                                                       ",\"ScheduledTime\":" + json_string(d->ScheduledTime) + "}" : "");
        }
    } else {
        return UNKNOWN_OPERATION;
    }
    return status;
}

int main(int argc, char **argv) {
    return run<BuzzMeInfoSoapProxy, BuzzMeInfoSoap12Proxy>(argc, argv);
}
