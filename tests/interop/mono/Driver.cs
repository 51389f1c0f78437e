// The Mono (.NET ASMX) client of the interop suite: it drives the proxy class `wsdl`
// generated from a served WSDL, and nothing else. One process runs every case of a service.
//
//   mono driver.exe <generated proxy class> <service address>  < cases (JSON lines)
//
// A case: {"id", "version": "1.1" or "1.2" (the proxy's SoapVersion), "operation",
// "args": {parameter: value}, "auth": [user, password] or null, "retry": n}. An argument
// "$ref:<case id>:<a.b.c>" is a value from an earlier case's result. Each case prints one
// JSON line: {"id", "ok", "result"}, {"id", "ok": false, "fault": {...}} or {"id", "ok":
// false, "transport": {...}}, with the Content-Type of the request and of the response.
//
// Arguments are converted to the .NET types wsdl declared; a value parameter left out is
// sent as its [DefaultValue], and fails the case when it has none (required), so an
// `xSpecified` flag the caller must remember is visible in the results.

using System;
using System.Collections;
using System.Collections.Generic;
using System.ComponentModel;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Threading;
using System.Web.Script.Serialization;
using System.Web.Services.Protocols;
using System.Xml.Serialization;

public static class Driver
{
    static string requestType, responseType;
    static readonly Dictionary<string, object> results = new Dictionary<string, object>();

    // Called by the proxy's GetWebResponse override (the Hook.cs written next to the proxy).
    public static WebResponse Seen(WebRequest request, Func<WebRequest, WebResponse> send)
    {
        requestType = request.ContentType;
        try
        {
            WebResponse response = send(request);
            responseType = response.ContentType;
            return response;
        }
        catch (WebException e)
        {
            if (e.Response != null) responseType = e.Response.ContentType;
            throw;
        }
    }

    public static int Main(string[] argv)
    {
        Type proxyType = Assembly.GetExecutingAssembly().GetType(argv[0], true);
        var json = new JavaScriptSerializer { MaxJsonLength = int.MaxValue };
        var proxies = new Dictionary<string, SoapHttpClientProtocol>();
        string line;
        while ((line = Console.In.ReadLine()) != null)
        {
            if (line.Trim().Length == 0) continue;
            var c = (Dictionary<string, object>)json.DeserializeObject(line);
            var output = new Dictionary<string, object>();
            string id = (string)c["id"];
            try
            {
                var auth = c.ContainsKey("auth") ? c["auth"] as object[] : null;
                string version = (string)c["version"];
                string key = version + "|" + (auth == null ? "" : auth[0] + ":" + auth[1]);
                SoapHttpClientProtocol proxy;
                if (!proxies.TryGetValue(key, out proxy))
                {
                    proxy = (SoapHttpClientProtocol)Activator.CreateInstance(proxyType);
                    proxy.Url = argv[1];
                    proxy.SoapVersion = version == "1.2" ? SoapProtocolVersion.Soap12 : SoapProtocolVersion.Soap11;
                    if (auth != null)
                    {
                        // Sent after the server's 401 Basic challenge, then up front.
                        proxy.Credentials = new NetworkCredential((string)auth[0], (string)auth[1]);
                        proxy.PreAuthenticate = true;
                    }
                    proxies[key] = proxy;
                }
                int tries = c.ContainsKey("retry") && c["retry"] != null ? System.Convert.ToInt32(c["retry"]) : 1;
                for (int attempt = 1; ; attempt++)
                {
                    output = new Dictionary<string, object>();
                    Call(proxy, (string)c["operation"], (Dictionary<string, object>)c["args"], output);
                    if (attempt >= tries || !Unsuccessful(output)) break;
                    Thread.Sleep(20);  // the switch answers the dialled call asynchronously
                }
            }
            catch (Exception e)
            {
                output["ok"] = false;
                output["error"] = e.ToString();
            }
            output["id"] = id;
            results[id] = output.ContainsKey("result") ? output["result"] : null;
            Console.Out.WriteLine(json.Serialize(output));
            Console.Out.Flush();
        }
        return 0;
    }

    static bool Unsuccessful(Dictionary<string, object> output)
    {
        if (!true.Equals(output["ok"])) return true;
        var result = output["result"] as Dictionary<string, object>;
        return result != null && result.ContainsKey("Success") && false.Equals(result["Success"]);
    }

    static void Call(SoapHttpClientProtocol proxy, string operation, Dictionary<string, object> args,
                     Dictionary<string, object> output)
    {
        MethodInfo method = null;
        foreach (MethodInfo m in proxy.GetType().GetMethods())
        {
            if (m.Name == operation && m.GetCustomAttributes(typeof(SoapDocumentMethodAttribute), false).Length > 0)
                method = m;
        }
        if (method == null) throw new ArgumentException("no operation " + operation);
        ParameterInfo[] parameters = method.GetParameters();
        var values = new object[parameters.Length];
        var unused = new HashSet<string>(args.Keys);
        for (int i = 0; i < parameters.Length; i++)
        {
            ParameterInfo p = parameters[i];
            string name = p.Name;
            if (name.EndsWith("Specified") && i > 0 && parameters[i - 1].Name + "Specified" == name)
            {
                values[i] = args.ContainsKey(parameters[i - 1].Name);  // the flag the caller must not forget
                continue;
            }
            unused.Remove(name);
            object value;
            if (args.TryGetValue(name, out value))
            {
                values[i] = Convert(operation + "." + name, Resolve(value), p.ParameterType);
                continue;
            }
            var defaults = p.GetCustomAttributes(typeof(DefaultValueAttribute), false);
            bool flagged = i + 1 < parameters.Length && parameters[i + 1].Name == name + "Specified";
            if (defaults.Length > 0) values[i] = ((DefaultValueAttribute)defaults[0]).Value;
            else if (!p.ParameterType.IsValueType || flagged)
                values[i] = p.ParameterType.IsValueType ? Activator.CreateInstance(p.ParameterType) : null;
            else throw new ArgumentException(operation + "." + name + " is required (" + p.ParameterType + ")");
        }
        if (unused.Count > 0) throw new ArgumentException(operation + " has no parameters " + string.Join(",", unused));
        requestType = responseType = null;
        try
        {
            object result = method.Invoke(proxy, values);
            output["ok"] = true;
            output["result"] = ToJson(result);
        }
        catch (TargetInvocationException e)
        {
            output["ok"] = false;
            var fault = e.InnerException as SoapException;
            var transport = e.InnerException as WebException;
            if (fault != null)
            {
                var subcodes = new List<object>();
                for (SoapFaultSubCode sub = fault.SubCode; sub != null; sub = sub.SubCode)
                    subcodes.Add("{" + sub.Code.Namespace + "}" + sub.Code.Name);
                output["fault"] = new Dictionary<string, object> {
                    {"code", fault.Code.Name}, {"code_ns", fault.Code.Namespace}, {"string", fault.Message},
                    {"subcodes", subcodes}};
            }
            else if (transport != null)
            {
                var http = transport.Response as HttpWebResponse;
                output["transport"] = new Dictionary<string, object> {
                    {"message", transport.Message},
                    {"http_status", http == null ? (object)null : (int)http.StatusCode},
                    {"www_authenticate", http == null ? null : http.Headers["WWW-Authenticate"]}};
            }
            else throw;
        }
        output["request_content_type"] = requestType;
        output["response_content_type"] = responseType;
    }

    static object Resolve(object value)
    {
        var text = value as string;
        if (text == null || !text.StartsWith("$ref:")) return value;
        string[] parts = text.Split(new[] {':'}, 3);
        object node = results[parts[1]];
        foreach (string key in parts[2].Split('.'))
        {
            var map = node as Dictionary<string, object>;
            node = map != null && map.ContainsKey(key) ? map[key] : null;
        }
        if (node == null) throw new ArgumentException("unresolved " + text);
        return node;
    }

    static object Convert(string where, object value, Type type)
    {
        if (value == null) return null;
        if (type == typeof(string)) return (string)value;
        if (type == typeof(int)) return System.Convert.ToInt32(value);
        if (type == typeof(long)) return System.Convert.ToInt64(value);
        if (type == typeof(double)) return System.Convert.ToDouble(value);
        if (type == typeof(bool)) return (bool)value;
        if (type == typeof(DateTime))
            return DateTime.Parse((string)value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        if (type.IsArray)
        {
            var items = (object[])value;
            Array array = Array.CreateInstance(type.GetElementType(), items.Length);
            for (int i = 0; i < items.Length; i++) array.SetValue(Convert(where + "[]", items[i], type.GetElementType()), i);
            return array;
        }
        throw new ArgumentException(where + ": no conversion to " + type);
    }

    static object ToJson(object value)
    {
        if (value == null || value is string || value is bool || value is int || value is long || value is double)
            return value;
        if (value is DateTime)
        {
            var t = (DateTime)value;
            return t.Kind == DateTimeKind.Unspecified
                ? t.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture)
                : t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
        }
        if (value is Array)
        {
            var list = new List<object>();
            foreach (object item in (Array)value) list.Add(ToJson(item));
            return list;
        }
        var bean = new Dictionary<string, object>();
        Type type = value.GetType();
        foreach (PropertyInfo p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetCustomAttributes(typeof(XmlIgnoreAttribute), false).Length > 0) continue;
            PropertyInfo specified = type.GetProperty(p.Name + "Specified");
            string name = p.Name;
            foreach (XmlElementAttribute xml in p.GetCustomAttributes(typeof(XmlElementAttribute), false))
                if (!string.IsNullOrEmpty(xml.ElementName)) name = xml.ElementName;
            bool absent = specified != null && !(bool)specified.GetValue(value, null);
            bean[name] = absent ? null : ToJson(p.GetValue(value, null));
        }
        return bean;
    }
}
