#!/usr/bin/perl
# Perl SOAP::Lite as one long-lived client of one SOAP service, for
# tests/interop/test_every_stack.py. SOAP::Lite's service() reads only rpc/encoded WSDLs,
# so the call is built from the WSDL's own table (argument 1, JSON, read from the served
# WSDL by tests/interop/stacks.py call_table): the address, the target namespace, each
# operation's soapAction and the wrapper's children in order. SOAP::Lite writes the
# envelope of the requested version, sends it, and decodes the answer.
#
# Reads one JSON request per line on stdin:
#   {"version": "1.1"|"1.2", "operation": "...", "args": [[name, value], ...], "auth": [user, password]|null}
# answers one JSON line: {"ok", "result", "fault": {"code", "string"}, "status",
# "www_authenticate", "chain": [[status, WWW-Authenticate], ...], "asked"} - the chain is the
# HTTP answers of the exchange (LWP sends credentials only once challenged, asking
# get_basic_credentials: "asked" times; when the retry is refused too, LWP returns the
# first 401 alone, and asks a second time).
use strict;
use warnings;
use JSON::PP;
use SOAP::Lite;
use SOAP::Transport::HTTP;  # loaded now, so that the override below is not undone when proxy() loads it

my $json = JSON::PP->new->utf8->canonical->allow_nonref;
my $table = $json->decode($ARGV[0]);
my %types;
for my $name (keys %{ $table->{operations} }) {
    $types{$name}{ $_->[0] } = $_->[1] for @{ $table->{operations}{$name}{params} };
}

our @CREDENTIALS;    # the current case's (user, password), or none
our $ASKED = 0;      # how often LWP asked for them: once per challenge it answers
{
    no warnings qw(redefine once);
    *SOAP::Transport::HTTP::Client::get_basic_credentials = sub { $ASKED++; return @CREDENTIALS };
}

sub text_of {
    my ($value, $type) = @_;
    return ($value ? 'true' : 'false') if ($type // '') eq 'xs:boolean';
    return "$value";
}

sub chain_of {
    my ($response) = @_;
    my @chain;
    for (my $r = $response; $r; $r = $r->previous) {
        unshift @chain, [ $r->code + 0, $r->header('WWW-Authenticate') // '' ];
    }
    return \@chain;
}

$| = 1;
while (my $line = <STDIN>) {
    my $request = $json->decode($line);
    my $operation = $request->{operation};
    my $entry = $table->{operations}{$operation} or die "no operation $operation in the table\n";
    my $version = $request->{version};
    @CREDENTIALS = $request->{auth} ? @{ $request->{auth} } : ();
    $ASKED = 0;
    # A new client per call: LWP remembers credentials it was challenged for, and a case
    # without credentials must send none.
    # SOAP::Lite keeps the version's namespaces in class-wide settings: set them first.
    SOAP::Lite->soapversion($version);
    my $soap = SOAP::Lite->new(proxy => $table->{endpoint});
    $soap->soapversion($version);
    $soap->autotype(0);
    my $action = $entry->{action}{$version};
    $soap->on_action(sub { qq("$action") });
    $soap->on_fault(sub { my ($client, $res) = @_; return ref $res ? $res : undef });
    my @params = map { SOAP::Data->name($_->[0] => text_of($_->[1], $types{$operation}{ $_->[0] })) }
        @{ $request->{args} };
    # The wrapper declares the target namespace as the default one: its children are in it too
    # (elementFormDefault="qualified").
    my $som = $soap->call(SOAP::Data->name($entry->{element})->attr({ xmlns => $table->{tns} }) => @params);
    my $http = $soap->transport->http_response;
    my %out = (status => $http ? $http->code + 0 : undef,
               www_authenticate => $http ? ($http->header('WWW-Authenticate') // '') : '',
               chain => $http ? chain_of($http) : [], asked => $ASKED);
    if (!ref $som) {
        $out{ok} = JSON::PP::false;
        $out{error} = $soap->transport->status;
    } elsif ($som->fault) {
        $out{ok} = JSON::PP::false;
        if ($version eq '1.2') {
            $out{fault} = { code => $som->valueof('//Fault/Code/Value'), string => $som->valueof('//Fault/Reason/Text') };
        } else {
            $out{fault} = { code => $som->faultcode, string => $som->faultstring };
        }
    } else {
        $out{ok} = JSON::PP::true;
        $out{result} = $som->result;
    }
    print $json->encode(\%out), "\n";
}
