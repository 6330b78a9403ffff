// Settings → Local API server: other programs on this computer (editors, scripts, agents) use the
// model LlamaDesk has loaded through the OpenAI API. Off by default; this computer only unless
// the user allows other machines, which needs an API key. The URL is what OpenAI clients take as
// their base URL.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ScrollView {
    id: page
    required property QtObject theme
    required property QtObject server     // server::ServerHost
    required property QtObject workspace  // copyText()
    objectName: "settingsApiServerPage"
    contentWidth: availableWidth

    ColumnLayout {
        width: page.availableWidth
        spacing: 8

        Label {
            text: qsTr("Local API server")
            font.bold: true
            font.pixelSize: 15
            topPadding: 10
        }
        Label {
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            color: page.theme.subtle
            text: qsTr("Serves the model loaded in LlamaDesk with the OpenAI API (/v1/chat/completions, /v1/models), so other programs can use it. Their requests wait in line with your chats.")
        }

        Switch {
            objectName: "apiServerEnabled"
            text: qsTr("Run the API server")
            checked: page.server.enabled
            onToggled: page.server.enabled = checked
        }

        RowLayout {
            Label {
                Layout.preferredWidth: 120
                text: qsTr("Port")
            }
            TextField {
                objectName: "apiServerPort"
                Layout.preferredWidth: 110
                text: String(page.server.port)
                validator: IntValidator { bottom: 1; top: 65535 }
                onEditingFinished: {
                    const v = Number(text)
                    if (!isNaN(v) && v >= 1 && v <= 65535) page.server.port = v
                }
            }
        }

        RowLayout {
            Label {
                Layout.preferredWidth: 120
                text: qsTr("API key")
            }
            TextField {
                id: keyField
                objectName: "apiServerKey"
                Layout.fillWidth: true
                text: page.server.apiKey
                placeholderText: qsTr("none (clients may send any key)")
                echoMode: showKey.checked ? TextInput.Normal : TextInput.Password
                onEditingFinished: page.server.apiKey = text
            }
            CheckBox {
                id: showKey
                text: qsTr("Show")
            }
            Button {
                text: qsTr("Generate")
                onClicked: page.server.generateKey()
            }
        }
        Label {
            Layout.fillWidth: true
            visible: !page.server.keyPersistent && keyField.text.length > 0
            wrapMode: Text.Wrap
            color: page.theme.subtle
            text: qsTr("No keyring is available: the key is kept for this session only.")
        }

        CheckBox {
            objectName: "apiServerAllowRemote"
            text: qsTr("Allow other computers on the network (requires an API key)")
            checked: page.server.allowRemote
            onToggled: page.server.allowRemote = checked
        }

        Label {
            Layout.fillWidth: true
            objectName: "apiServerStatus"
            wrapMode: Text.Wrap
            color: page.server.failed ? page.theme.error : page.theme.subtle
            text: page.server.status
        }

        RowLayout {
            visible: page.server.listening
            Label {
                Layout.preferredWidth: 120
                text: qsTr("Base URL")
            }
            TextField {
                objectName: "apiServerUrl"
                Layout.fillWidth: true
                readOnly: true
                selectByMouse: true
                text: page.server.url
            }
            Button {
                text: qsTr("Copy")
                onClicked: page.workspace.copyText(page.server.url)
            }
        }
        Label {
            Layout.fillWidth: true
            visible: page.server.listening
            wrapMode: Text.Wrap
            color: page.theme.subtle
            textFormat: Text.PlainText
            text: qsTr("For example: new OpenAI({ baseURL: \"%1\", apiKey: \"%2\" }). The model's id is its file name without .gguf (GET /v1/models lists it).")
                  .arg(page.server.url).arg(page.server.apiKey.length > 0 ? qsTr("your key") : "none")
        }
    }
}
