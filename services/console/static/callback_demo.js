// The seed's integration snippet (Buzzeasy, event notification) with a request form:
// POST the seed's JSON body to the REST URL (same origin), then Subscribe to the
// ConfirmationCode on the hub, whose base URL the page names (data-hub), and list each
// updateStatus until closeConnection.
jQuery.support.cors = true;
$(function () {
    var rest = "/RequestCallbackService/Service.svc/rest/RequestCallWhenAvailable";
    // connect to the hubs
    var connection = $.hubConnection($('#demo').attr('data-hub'));
    var notifyme = connection.createHubProxy('NotifyMe');
    // Create a function that the hub can call to update the status of call
    notifyme.on("updateStatus", function (confcode, callstatus) {
        $('#statuses').append($('<li>').text(callstatus));
    });
    notifyme.on("closeConnection", function () {
        $('#state').text('Finished.');
        connection.stop();
    });
    function field(name) { return $('#' + name).val(); }
    // Start the connection.
    connection.start().done(function () {
        $('#state').text('Connected (' + connection.transport.name + ').');
        $('#subscribecode').prop('disabled', false);
        $('#request').submit(function (event) {
            event.preventDefault();
            $('#subscribecode').prop('disabled', true);
            $('#statuses').empty();
            $('#code').text('');
            $.ajax({url: rest, type: "POST", contentType: "application/json", dataType: "json",
                    data: JSON.stringify({name: field('name'), phoneNo: field('phoneNo'),
                                          serviceQueue: field('serviceQueue'), company: field('company'),
                                          password: field('password')})})
                .done(function (answer) {
                    if (answer.ResultCode !== 0) {
                        $('#state').text('Not requested: ResultCode ' + answer.ResultCode + '.');
                        $('#subscribecode').prop('disabled', false);
                        return;
                    }
                    var confirmationCode = answer.ConfirmationCode;
                    $('#code').text(confirmationCode);
                    $('#state').text('Requested; following it.');
                    // Call the Subscribe method on the hub using confirmation code.
                    notifyme.invoke("Subscribe", confirmationCode).fail(function (error) {
                        $('#state').text(error.message);
                    });
                })
                .fail(function (xhr) {
                    $('#state').text('The request failed (HTTP ' + xhr.status + ').');
                    $('#subscribecode').prop('disabled', false);
                });
        });
    }).fail(function () {
        $('#state').text('Could not connect.');
    });
});
