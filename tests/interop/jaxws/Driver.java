// The JAX-WS client of the interop suite: it drives the port classes wsimport generated
// from a served WSDL, and nothing else. One process runs every case of a service.
//
//   java Driver <wsdl URL> <generated Service class>  < cases (JSON lines)
//
// A case: {"id", "port": the wsdl:port name, "operation", "args": {element: value},
// "auth": [user, password] or null, "retry": n}. An argument "$ref:<case id>:<a.b.c>" is a
// value from an earlier case's result. Each case prints one JSON line: {"id", "ok", "result"}
// or {"id", "ok": false, "fault": {...}} or {"id", "ok": false, "transport": {...}}, with the
// SOAP envelope namespace of the request and of the response the client saw.
//
// Arguments are converted to the Java types wsimport declared; a JAXBElement parameter or
// a required parameter left out fails the case (the typed client must be natural to call).

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.jws.WebMethod;
import javax.jws.WebParam;
import javax.xml.bind.JAXBElement;
import javax.xml.bind.annotation.XmlElement;
import javax.xml.datatype.DatatypeFactory;
import javax.xml.datatype.XMLGregorianCalendar;
import javax.xml.namespace.QName;
import javax.xml.soap.SOAPFault;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.Service;
import javax.xml.ws.WebEndpoint;
import javax.xml.ws.WebServiceException;
import javax.xml.ws.handler.Handler;
import javax.xml.ws.handler.MessageContext;
import javax.xml.ws.handler.soap.SOAPHandler;
import javax.xml.ws.handler.soap.SOAPMessageContext;
import javax.xml.ws.soap.SOAPFaultException;

public class Driver {
    static final String SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope";
    static final Map<String, Object> results = new HashMap<>();

    public static void main(String[] argv) throws Exception {
        Class<?> serviceClass = Class.forName(argv[1]);
        Service service = (Service) serviceClass.getConstructor(URL.class).newInstance(new URL(argv[0]));
        Map<String, Object> ports = new HashMap<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            if (line.isBlank()) continue;
            @SuppressWarnings("unchecked")
            Map<String, Object> c = (Map<String, Object>) Json.parse(line);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("id", c.get("id"));
            try {
                List<?> auth = (List<?>) c.get("auth");
                String key = c.get("port") + "|" + auth;
                Object port = ports.get(key);
                if (port == null) {
                    port = port(service, serviceClass, (String) c.get("port"), auth);
                    ports.put(key, port);
                }
                int tries = c.get("retry") == null ? 1 : ((Number) c.get("retry")).intValue();
                for (int attempt = 1; ; attempt++) {
                    out.keySet().retainAll(Set.of("id"));
                    call(port, (String) c.get("operation"), (Map<?, ?>) c.get("args"), out);
                    if (attempt >= tries || !unsuccessful(out)) break;
                    Thread.sleep(20);  // the switch answers the dialled call asynchronously
                }
            } catch (Exception e) {
                out.put("ok", false);
                out.put("error", e.toString());
            }
            results.put((String) c.get("id"), out.get("result"));
            System.out.println(Json.write(out));
            System.out.flush();
        }
    }

    static boolean unsuccessful(Map<String, Object> out) {
        Object result = out.get("result");
        return !Boolean.TRUE.equals(out.get("ok"))
            || (result instanceof Map && Boolean.FALSE.equals(((Map<?, ?>) result).get("Success")));
    }

    static Object port(Service service, Class<?> serviceClass, String name, List<?> auth) throws Exception {
        for (Method m : serviceClass.getMethods()) {
            WebEndpoint endpoint = m.getAnnotation(WebEndpoint.class);
            if (endpoint != null && endpoint.name().equals(name) && m.getParameterCount() == 0) {
                Object port = m.invoke(service);
                BindingProvider provider = (BindingProvider) port;
                if (auth != null) {
                    provider.getRequestContext().put(BindingProvider.USERNAME_PROPERTY, auth.get(0));
                    provider.getRequestContext().put(BindingProvider.PASSWORD_PROPERTY, auth.get(1));
                }
                @SuppressWarnings("rawtypes")
                List<Handler> chain = new ArrayList<>(provider.getBinding().getHandlerChain());
                chain.add(new EnvelopeRecorder());
                provider.getBinding().setHandlerChain(chain);
                return port;
            }
        }
        throw new IllegalArgumentException("no port " + name + " in " + serviceClass.getName());
    }

    static void call(Object port, String operation, Map<?, ?> args, Map<String, Object> out) throws Exception {
        Method method = null;
        for (Class<?> iface : port.getClass().getInterfaces()) {
            for (Method m : iface.getMethods()) {
                WebMethod web = m.getAnnotation(WebMethod.class);
                if (web != null && web.operationName().equals(operation)) method = m;
            }
        }
        if (method == null) throw new IllegalArgumentException("no operation " + operation);
        Object[] values = new Object[method.getParameterCount()];
        Type[] types = method.getGenericParameterTypes();
        java.lang.annotation.Annotation[][] annotations = method.getParameterAnnotations();
        Set<Object> unused = new java.util.HashSet<>(args.keySet());
        for (int i = 0; i < values.length; i++) {
            String name = null;
            for (java.lang.annotation.Annotation a : annotations[i]) {
                if (a instanceof WebParam) name = ((WebParam) a).name();
            }
            unused.remove(name);
            values[i] = convert(operation + "." + name, resolve(args.get(name)), types[i]);
        }
        if (!unused.isEmpty()) throw new IllegalArgumentException(operation + " has no parameters " + unused);
        EnvelopeRecorder.request = EnvelopeRecorder.response = null;
        try {
            Object result = method.invoke(port, values);
            out.put("ok", true);
            out.put("result", toJson(result));
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            out.put("ok", false);
            if (cause instanceof SOAPFaultException) {
                SOAPFault fault = ((SOAPFaultException) cause).getFault();
                Map<String, Object> f = new LinkedHashMap<>();
                QName code = fault.getFaultCodeAsQName();
                f.put("code", code.getLocalPart());
                f.put("code_ns", code.getNamespaceURI());
                f.put("string", fault.getFaultString());
                List<Object> subcodes = new ArrayList<>();
                if (SOAP12_ENV.equals(code.getNamespaceURI())) {  // SOAP 1.1 faults have no subcodes
                    for (Iterator<?> it = fault.getFaultSubcodes(); it.hasNext(); ) {
                        QName sub = (QName) it.next();
                        subcodes.add("{" + sub.getNamespaceURI() + "}" + sub.getLocalPart());
                    }
                }
                f.put("subcodes", subcodes);
                out.put("fault", f);
            } else if (cause instanceof WebServiceException) {
                Map<String, Object> t = new LinkedHashMap<>();
                t.put("message", String.valueOf(cause.getMessage()));
                Matcher status = Pattern.compile("status code (\\d{3})").matcher(String.valueOf(cause.getMessage()));
                t.put("http_status", status.find() ? Integer.valueOf(status.group(1)) : null);
                out.put("transport", t);
            } else {
                throw e;
            }
        }
        out.put("request_envelope", EnvelopeRecorder.request);
        out.put("response_envelope", EnvelopeRecorder.response);
    }

    static Object resolve(Object value) {
        if (value instanceof String && ((String) value).startsWith("$ref:")) {
            String[] ref = ((String) value).split(":", 3);
            Object node = results.get(ref[1]);
            for (String key : ref[2].split("\\.")) {
                node = node instanceof Map ? ((Map<?, ?>) node).get(key) : null;
            }
            if (node == null) throw new IllegalArgumentException("unresolved " + value);
            return node;
        }
        return value;
    }

    static Object convert(String where, Object value, Type type) throws Exception {
        Class<?> raw = type instanceof ParameterizedType
            ? (Class<?>) ((ParameterizedType) type).getRawType() : (Class<?>) type;
        if (raw == JAXBElement.class) {
            throw new IllegalArgumentException(where + " is a JAXBElement, not a plain value");
        }
        if (value == null) {
            if (raw.isPrimitive()) throw new IllegalArgumentException(where + " is required (" + raw + ")");
            return null;
        }
        if (raw == String.class) return (String) value;
        if (raw == int.class || raw == Integer.class) return ((Number) value).intValue();
        if (raw == long.class || raw == Long.class) return ((Number) value).longValue();
        if (raw == double.class || raw == Double.class) return ((Number) value).doubleValue();
        if (raw == boolean.class || raw == Boolean.class) return (Boolean) value;
        if (raw == XMLGregorianCalendar.class) {
            return DatatypeFactory.newInstance().newXMLGregorianCalendar((String) value);
        }
        if (raw == List.class) {
            Type item = ((ParameterizedType) type).getActualTypeArguments()[0];
            List<Object> list = new ArrayList<>();
            for (Object v : (List<?>) value) list.add(convert(where + "[]", v, item));
            return list;
        }
        throw new IllegalArgumentException(where + ": no conversion to " + type);
    }

    static Object toJson(Object value) throws Exception {
        if (value == null || value instanceof String || value instanceof Number || value instanceof Boolean) {
            return value;
        }
        if (value instanceof XMLGregorianCalendar) return ((XMLGregorianCalendar) value).toXMLFormat();
        if (value instanceof JAXBElement) {
            // nillable elements: the value, or null for xsi:nil
            JAXBElement<?> element = (JAXBElement<?>) value;
            return element.isNil() ? null : toJson(element.getValue());
        }
        if (value instanceof List) {
            List<Object> list = new ArrayList<>();
            for (Object v : (List<?>) value) list.add(toJson(v));
            return list;
        }
        Map<String, Object> bean = new LinkedHashMap<>();
        List<Class<?>> classes = new ArrayList<>();
        for (Class<?> c = value.getClass(); c != null && c != Object.class; c = c.getSuperclass()) classes.add(c);
        Collections.reverse(classes);
        for (Class<?> c : classes) {
            for (Field field : c.getDeclaredFields()) {
                if (java.lang.reflect.Modifier.isStatic(field.getModifiers())) continue;
                field.setAccessible(true);
                XmlElement xml = field.getAnnotation(XmlElement.class);
                String name = xml != null && !xml.name().equals("##default") ? xml.name() : field.getName();
                Object v = field.get(value);
                bean.put(name, v == null && field.getType() == List.class ? new ArrayList<>() : toJson(v));
            }
        }
        return bean;
    }

    /** Records the SOAP envelope namespace of each message the port sends and receives. */
    static class EnvelopeRecorder implements SOAPHandler<SOAPMessageContext> {
        static String request, response;

        public Set<QName> getHeaders() {
            return Collections.emptySet();
        }

        public boolean handleMessage(SOAPMessageContext context) {
            record(context);
            return true;
        }

        public boolean handleFault(SOAPMessageContext context) {
            record(context);
            return true;
        }

        static void record(SOAPMessageContext context) {
            try {
                String ns = context.getMessage().getSOAPPart().getEnvelope().getNamespaceURI();
                if ((Boolean) context.get(MessageContext.MESSAGE_OUTBOUND_PROPERTY)) request = ns;
                else response = ns;
            } catch (Exception e) {
                throw new WebServiceException(e);
            }
        }

        public void close(MessageContext context) {
        }
    }

    /** Just enough JSON for the cases and the answers. */
    static class Json {
        final String s;
        int i;

        Json(String s) {
            this.s = s;
        }

        static Object parse(String text) {
            Json p = new Json(text);
            Object v = p.value();
            p.space();
            if (p.i != text.length()) throw new IllegalArgumentException("trailing JSON at " + p.i);
            return v;
        }

        void space() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }

        Object value() {
            space();
            char ch = s.charAt(i);
            if (ch == '{') {
                Map<String, Object> map = new LinkedHashMap<>();
                i++;
                space();
                if (s.charAt(i) == '}') { i++; return map; }
                while (true) {
                    space();
                    String key = (String) value();
                    space();
                    i++;  // ':'
                    map.put(key, value());
                    space();
                    if (s.charAt(i++) == '}') return map;
                }
            }
            if (ch == '[') {
                List<Object> list = new ArrayList<>();
                i++;
                space();
                if (s.charAt(i) == ']') { i++; return list; }
                while (true) {
                    list.add(value());
                    space();
                    if (s.charAt(i++) == ']') return list;
                }
            }
            if (ch == '"') {
                StringBuilder b = new StringBuilder();
                i++;
                while (true) {
                    char c = s.charAt(i++);
                    if (c == '"') return b.toString();
                    if (c != '\\') { b.append(c); continue; }
                    char e = s.charAt(i++);
                    switch (e) {
                        case 'n': b.append('\n'); break;
                        case 'r': b.append('\r'); break;
                        case 't': b.append('\t'); break;
                        case 'b': b.append('\b'); break;
                        case 'f': b.append('\f'); break;
                        case 'u': b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                        default: b.append(e);
                    }
                }
            }
            if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
            if (s.startsWith("null", i)) { i += 4; return null; }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            String number = s.substring(start, i);
            if (number.matches("-?\\d+")) return Long.valueOf(number);
            return Double.valueOf(number);
        }

        static String write(Object v) {
            StringBuilder b = new StringBuilder();
            write(b, v);
            return b.toString();
        }

        static void write(StringBuilder b, Object v) {
            if (v == null) {
                b.append("null");
            } else if (v instanceof Map) {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                    if (!first) b.append(',');
                    first = false;
                    write(b, String.valueOf(e.getKey()));
                    b.append(':');
                    write(b, e.getValue());
                }
                b.append('}');
            } else if (v instanceof List) {
                b.append('[');
                boolean first = true;
                for (Object item : (List<?>) v) {
                    if (!first) b.append(',');
                    first = false;
                    write(b, item);
                }
                b.append(']');
            } else if (v instanceof String) {
                b.append('"');
                for (char c : ((String) v).toCharArray()) {
                    if (c == '"' || c == '\\') b.append('\\').append(c);
                    else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
                b.append('"');
            } else {
                b.append(v);
            }
        }
    }
}
